"""The live chart's HTML page: Plotly draws the panels `chart.panels()` describes.

Served, the page loads Plotly from the same local server and asks it for new data
every second; saved, Plotly's code and the data are written into the file itself,
so it opens anywhere with no server and no network.
"""

import html
import json
import math

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  body {{ font-family: Helvetica, Arial, sans-serif; margin: 12px 18px; color: #222; }}
  h1 {{ font-size: 18px; margin: 0 0 4px 0; }}
  #status {{ font-size: 13px; color: #555; margin-bottom: 8px; white-space: pre-wrap; }}
  #charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
            gap: 8px; }}
  .panel {{ height: 300px; min-width: 0; overflow: hidden; }}
</style>
{plotly}
</head>
<body>
<h1>{title}</h1>
<div id="status"></div>
<div id="charts"></div>
<script id="initial-data" type="application/json">{data}</script>
<script>
"use strict";
const LIVE = {live};
const TRAIN = "#1f77b4", VAL = "#ff7f0e";

function traces(panel) {{
  const out = [];
  const xy = (pts) => [pts.map((p) => p[0]), pts.map((p) => p[1])];
  if (panel.batches.length) {{
    const [x, y] = xy(panel.batches);
    out.push({{x, y, name: "train (batches)", mode: "lines", hoverinfo: "skip",
               line: {{color: TRAIN, width: 1}}, opacity: 0.35}});
  }}
  for (const [key, name, color] of [["train", "train", TRAIN], ["val", "validation", VAL]]) {{
    if (!panel[key].length) continue;
    const [x, y] = xy(panel[key]);
    out.push({{x, y, name, mode: "lines+markers", line: {{color}}, marker: {{size: 6}}}});
  }}
  return out;
}}

let latest = null;

function render(data) {{
  latest = data;
  const host = document.getElementById("charts");
  document.getElementById("status").textContent = data.status;
  // Every panel's box first, so each is measured in the final grid.
  const divs = data.panels.map((panel) => {{
    let div = document.getElementById("panel-" + panel.name);
    if (!div) {{
      div = document.createElement("div");
      div.id = "panel-" + panel.name;
      div.className = "panel";
      div.dataset.metric = panel.name;
      host.appendChild(div);
    }}
    return div;
  }});
  data.panels.forEach((panel, i) => {{
    const div = divs[i];
    div.dataset.epochs = String(panel.train.length);
    Plotly.react(div, traces(panel), {{
      width: div.clientWidth, height: 300,
      title: {{text: panel.name, font: {{size: 14}}}},
      margin: {{l: 50, r: 10, t: 36, b: 40}},
      xaxis: {{title: {{text: "epoch"}}}},
      legend: {{orientation: "h", y: -0.25}},
    }}, {{displayModeBar: false}});
  }});
}}

window.addEventListener("resize", () => {{ if (latest) render(latest); }});
render(JSON.parse(document.getElementById("initial-data").textContent));
if (LIVE) {{
  let version = null;
  async function poll() {{
    try {{
      const response = await fetch("data.json", {{cache: "no-store"}});
      const data = await response.json();
      if (data.version !== version) {{ version = data.version; render(data); }}
    }} catch (e) {{
      document.getElementById("status").textContent += "  (training server gone)";
      return;
    }}
    setTimeout(poll, {interval_ms});
  }}
  setTimeout(poll, {interval_ms});
}}
</script>
</body>
</html>
"""


def plotly_js_path():
    """The minified Plotly that the `plotly` package ships, served or inlined from disk."""
    try:
        import plotly
    except ImportError:
        raise ImportError("The live chart's page draws with Plotly's JavaScript, which ember "
                          "takes from the `plotly` package: `pip install plotly` (or `pip "
                          "install \"ember[plot]\"`).") from None
    import os
    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    if not os.path.isfile(path):
        raise ImportError(f"The plotly package has no {path}; reinstall plotly.")
    return path


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data):
    """JSON that browsers parse: a NaN or infinite loss becomes null (a gap in the line)."""
    return json.dumps(_finite(data))


def _script_json(data):
    # "</" would end the <script> element early.
    return to_json(data).replace("</", "<\\/")


def render_page(data, title, live, interval_ms=1000, inline_plotly=None):
    """The page's HTML: `live` pages poll `data.json` and load `plotly.min.js` beside them;
    `inline_plotly` (Plotly's code) makes the page self-contained."""
    if inline_plotly is not None:
        code = inline_plotly.replace("</script", "<\\/script")
        plotly = f"<script>{code}</script>"
    else:
        plotly = '<script src="plotly.min.js"></script>'
    return _TEMPLATE.format(title=html.escape(title), plotly=plotly, data=_script_json(data),
                            live="true" if live else "false", interval_ms=int(interval_ms))
