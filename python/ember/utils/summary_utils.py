"""Plain-text model summaries laid out exactly like Keras 3's ``model.summary()``.

Keras builds its summary with a ``rich`` table. ember must not depend on rich,
so this module re-implements the small part of rich's layout that the summary
exercises (fixed-width columns, word wrapping with ellipsis, box drawing and
console cropping) closely enough to produce the same characters that Keras
prints when stdout is not a terminal or when a ``print_fn`` is given. Colours
and bold, which rich only emits on a terminal, are not reproduced.
"""

import builtins
import itertools
import os
import shutil
import sys
import unicodedata

__all__ = ["format_param_count", "format_shape", "print_summary", "readable_memory_size"]

# Keras reports weight memory from each variable's dtype; ember's parameters
# are float32.
_BYTES_PER_PARAM = 4

# Box characters in rich's 8-line layout: top, header row, header separator,
# body row, row separator, footer separator, footer row, bottom. Each line is
# left edge, horizontal fill, column divider, right edge.
_HEAVY_HEAD = ("┏━┳┓", "┃ ┃┃", "┡━╇┩", "│ ││", "├─┼┤", "├─┼┤", "│ ││", "└─┴┘")
# What rich substitutes when the output stream cannot encode box drawings.
_ASCII = ("+--+", "| ||", "|-+|", "| ||", "|-+|", "|-+|", "| ||", "+--+")
_TOP, _HEAD, _HEAD_SEP, _MID, _ROW_SEP, _FOOT_SEP, _FOOT, _BOTTOM = range(8)

_CELL_PADDING = 1  # spaces on each side of a cell's content
_ELLIPSIS = "…"


def format_param_count(n):
    """Formats a parameter count with thousands separators, e.g. ``2,651``."""
    return f"{n:,}"


def format_shape(shape):
    """Formats an output shape the way Keras shows it, e.g. ``(None, 50)``.

    Keras joins the dimensions itself rather than using ``str(tuple)``, so a
    rank-1 shape reads ``(None)``, without the tuple's trailing comma.
    """
    return f"({', '.join(str(dim) for dim in shape)})"


def readable_memory_size(weight_memory_size):
    """Converts a size in bytes to Keras's string form, e.g. ``10.36 KB``."""
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    for unit in units:
        if weight_memory_size / 1024 < 1:
            return f"{weight_memory_size:.2f} {unit}"
        weight_memory_size /= 1024
    return f"{weight_memory_size:.2f} {units[-1]}"


# --------------------------------------------------------------------------
# Terminal-cell text helpers (rich measures and crops in cells, not chars).
# --------------------------------------------------------------------------


def _char_cells(char):
    code = ord(char)
    if (code and code < 32) or 0x7F <= code < 0xA0 or unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _cell_len(text):
    if text.isascii():
        return len(text)
    return sum(_char_cells(c) for c in text)


def _set_cell_size(text, total):
    """Crops or space-pads ``text`` to exactly ``total`` cells."""
    if text.isascii():
        return text[:total] if len(text) >= total else text + " " * (total - len(text))
    if total <= 0:
        return ""
    out, size = [], 0
    for char in text:
        cells = _char_cells(char)
        if size + cells > total:
            break
        out.append(char)
        size += cells
    # A wide character that straddles the limit is replaced by padding.
    return "".join(out) + " " * (total - size)


def _chop_cells(text, width):
    """Splits ``text`` into pieces of at most ``width`` cells each."""
    pieces, current, size = [], "", 0
    for char in text:
        cells = _char_cells(char)
        if size + cells > width and current:
            pieces.append(current)
            current, size = "", 0
        current += char
        size += cells
    if current:
        pieces.append(current)
    return pieces


def _words(text):
    """Yields ``(start, word)`` where a word carries its surrounding spaces.

    Leading whitespace belongs to the first word and trailing whitespace to
    the word it follows, as in rich's ``\\s*\\S+\\s*`` tokenisation.
    """
    pos, n = 0, len(text)
    while pos < n:
        end = pos
        while end < n and text[end].isspace():
            end += 1
        if end == n:
            return  # trailing whitespace only: not a word
        while end < n and not text[end].isspace():
            end += 1
        while end < n and text[end].isspace():
            end += 1
        yield pos, text[pos:end]
        pos = end


def _line_breaks(text, width, fold):
    """Offsets at which ``text`` is broken to fit ``width`` cells."""
    breaks = []
    offset = 0  # cells used on the current line
    for start, word in _words(text):
        word_len = _cell_len(word.rstrip())
        if width - offset >= word_len:
            offset += _cell_len(word)
        elif word_len > width:
            # Too long for any line: fold it over several lines, or start it
            # on a new line and let truncation crop it.
            if fold:
                pieces = _chop_cells(word, width)
                for i, piece in enumerate(pieces):
                    if start:
                        breaks.append(start)
                    if i == len(pieces) - 1:
                        offset = _cell_len(piece)
                    else:
                        start += len(piece)
            else:
                if start:
                    breaks.append(start)
                offset = _cell_len(word)
        elif offset and start:
            breaks.append(start)
            offset = _cell_len(word)
    return breaks


def _truncate(line, width, overflow, pad=False):
    length = _cell_len(line)
    if length > width:
        if overflow == "ellipsis":
            line = _set_cell_size(line, width - 1) + _ELLIPSIS
        else:
            line = _set_cell_size(line, width)
    if pad and length < width:
        line += " " * (width - length)
    return line


def _wrap(text, width, justify, overflow):
    """Word-wraps ``text`` into lines of at most ``width`` cells.

    ``justify`` is "left", "right" or None (no padding); ``overflow`` is
    "ellipsis" (words too long are cut and end with "…") or "fold".
    """
    lines = []
    for paragraph in text.split("\n"):
        breaks = [0, *_line_breaks(paragraph, width, overflow == "fold"), len(paragraph)]
        new_lines = []
        for start, end in itertools.pairwise(breaks):
            line = paragraph[start:end]
            # Whitespace at a wrap point is dropped only as far as needed.
            excess = len(line) - width
            if excess > 0:
                trailing = len(line) - len(line.rstrip())
                line = line[: len(line) - min(trailing, excess)]
            new_lines.append(line)
        for line in new_lines:
            if justify == "left":
                line = _truncate(line, width, overflow, pad=True)
            elif justify == "right":
                line = _truncate(line.rstrip(), width, overflow)
                line = " " * (width - _cell_len(line)) + line
            lines.append(_truncate(line, width, overflow))
    return lines


# --------------------------------------------------------------------------
# Table layout.
# --------------------------------------------------------------------------


def _ratio_reduce(total, ratios, maximums, values):
    """Removes ``total`` from ``values`` in proportion to ``ratios``.

    Uses Python's round-half-to-even like rich, which decides which column
    loses the odd cell.
    """
    ratios = [ratio if maximum else 0 for ratio, maximum in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    result = []
    for ratio, maximum, value in zip(ratios, maximums, values):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * total / total_ratio))
            result.append(value - distributed)
            total -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def _fit_column_widths(content_widths, table_width):
    """Rendered column widths (padding included, borders excluded).

    Keras asks for columns whose content widths already add up to the whole
    line, so padding and borders overflow it; the excess is then taken evenly
    from every column, shrinking the visible content of each.
    """
    max_width = table_width - (len(content_widths) + 1)  # minus borders
    padding = 2 * _CELL_PADDING
    if max_width < 1:
        widths = [1] * len(content_widths)
    else:
        widths = [min(w + padding, max_width) or 1 for w in content_widths]
    if sum(widths) > max_width:
        excess = sum(widths) - max_width
        widths = _ratio_reduce(excess, [1] * len(widths), widths, widths)
        widths = [
            min(w + padding, width) if width >= 1 else 0 for w, width in zip(content_widths, widths)
        ]
    return widths


def _render_row(cells, widths, justify, valign, box_line):
    pad = " " * _CELL_PADDING
    columns = []
    for text, width, how in zip(cells, widths, justify):
        inner = width - 2 * _CELL_PADDING
        # rich renders nothing at all into a cell with no room for content.
        lines = _wrap(text, inner, how, "ellipsis") if inner > 0 else []
        columns.append([_set_cell_size(pad + _set_cell_size(s, inner) + pad, width) for s in lines])
    height = max(1, *(len(lines) for lines in columns))
    for lines, width in zip(columns, widths):
        blank = [" " * width] * (height - len(lines))
        lines[:] = blank + lines if valign == "bottom" else lines + blank
    left, _, divider, right = box_line
    return [left + divider.join(col[i] for col in columns) + right for i in range(height)]


def _rule(widths, box_line):
    left, fill, cross, right = box_line
    return left + cross.join(fill * w for w in widths) + right


def _render_table(header, rows, justify, content_widths, table_width, box):
    widths = _fit_column_widths(content_widths, table_width)
    lines = [_rule(widths, box[_TOP])]
    # The header sits at the bottom of its row, body cells at the top.
    lines += _render_row(header, widths, justify, "bottom", box[_HEAD])
    lines.append(_rule(widths, box[_HEAD_SEP]))
    for i, row in enumerate(rows):
        last = i == len(rows) - 1
        lines += _render_row(row, widths, justify, "top", box[_FOOT if last else _MID])
        if not last:
            lines.append(_rule(widths, box[_ROW_SEP]))
    lines.append(_rule(widths, box[_BOTTOM]))
    return lines


# --------------------------------------------------------------------------
# Console properties, as rich determines them.
# --------------------------------------------------------------------------


def _in_jupyter():
    get_ipython = getattr(builtins, "get_ipython", None)
    if get_ipython is None:
        return False
    shell = get_ipython()
    return (
        "google.colab" in str(shell.__class__)
        or bool(os.getenv("DATABRICKS_RUNTIME_VERSION"))
        or shell.__class__.__name__ == "ZMQInteractiveShell"
    )


def _console_width():
    """Width rich gives its console.

    This is not the width Keras uses for the table (shutil's, which only
    looks at stdout): rich also asks stdin and stderr, so under a pipe from a
    terminal it still knows the terminal width. Lines wider than this are
    cropped and free text is wrapped to it.
    """
    columns = os.environ.get("COLUMNS")
    if _in_jupyter() and not (columns and columns.isdigit()):
        jupyter_columns = os.environ.get("JUPYTER_COLUMNS", "")
        return int(jupyter_columns) if jupyter_columns.isdigit() else 115
    if columns is not None and columns.isdigit():
        return int(columns)
    width = None
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
            break
        except (AttributeError, ValueError, OSError):
            pass
    return width or 80


def _ascii_only():
    encoding = (getattr(sys.stdout, "encoding", "utf-8") or "utf-8").lower()
    return not encoding.startswith("utf")


# --------------------------------------------------------------------------
# Public entry point.
# --------------------------------------------------------------------------


def print_summary(
    model_name,
    rows,
    total_params,
    trainable_params,
    non_trainable_params,
    line_length=None,
    positions=None,
    print_fn=None,
    optimizer_params=None,
    optimizer_bytes=None,
):
    """Prints a Keras-3-style summary of a sequential-like model.

    Args:
        model_name: Name shown in the ``Model: "..."`` title.
        rows: Sequence of ``(layer_label, output_shape, param_count)`` string
            triples, e.g. ``("dense (Dense)", "(None, 50)", "450")``.
        total_params: Total parameter count (int).
        trainable_params: Trainable parameter count (int).
        non_trainable_params: Non-trainable parameter count (int).
        line_length: Total width of the table. Defaults to 88, capped to the
            terminal width minus 4 (80 - 4 when stdout is not a terminal).
        positions: Right edges of the columns as fractions of
            ``line_length``. Defaults to ``[0.45, 0.80, 1.0]``.
        print_fn: If given, called once with the whole summary (a single
            string ending in a newline), as Keras does; otherwise the summary
            is written to ``sys.stdout``.
        optimizer_params: Optimizer variable count, for a model whose
            optimizer is built (Keras then adds an ``Optimizer params`` line).
            ``total_params`` must already include it.
        optimizer_bytes: Memory of the optimizer variables; defaults to 4
            bytes per variable element. Keras counts by dtype, and the int64
            iteration counter takes 8.
    """
    header = ["Layer (type)", "Output Shape", "Param #"]
    justify = ["left", "left", "right"]
    positions = positions or [0.45, 0.80, 1.0]
    if len(positions) < len(header):
        raise ValueError(f"`positions` needs {len(header)} entries. Received: {positions}")
    line_length = line_length or min(88, shutil.get_terminal_size().columns - 4)

    content_widths = []
    current = 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        content_widths.append(width)
        current += width

    box = _ASCII if _ascii_only() else _HEAVY_HEAD
    table = _render_table(
        header,
        [[str(cell) for cell in row] for row in rows],
        justify,
        content_widths[: len(header)],
        line_length,
        box,
    )

    total_bytes = total_params * _BYTES_PER_PARAM
    footer = [
        ("Total params", total_params, total_bytes),
        ("Trainable params", trainable_params, trainable_params * _BYTES_PER_PARAM),
        ("Non-trainable params", non_trainable_params, non_trainable_params * _BYTES_PER_PARAM),
    ]
    if optimizer_params is not None:
        if optimizer_bytes is None:
            optimizer_bytes = optimizer_params * _BYTES_PER_PARAM
        # Only the optimizer may hold non-float32 variables.
        footer[0] = (
            "Total params",
            total_params,
            total_bytes + optimizer_bytes - optimizer_params * _BYTES_PER_PARAM,
        )
        footer.append(("Optimizer params", optimizer_params, optimizer_bytes))

    console_width = _console_width()
    lines = _wrap(f'Model: "{model_name}"', console_width, None, "fold")
    lines += [
        _set_cell_size(line, console_width) if _cell_len(line) > console_width else line
        for line in table
    ]
    for label, count, size in footer:
        text = f" {label}: {format_param_count(count)} ({readable_memory_size(size)})"
        lines += _wrap(text, console_width, None, "fold")
    summary = "".join(line + "\n" for line in lines)

    if print_fn is not None:
        print_fn(summary)
    else:
        sys.stdout.write(summary)
        sys.stdout.flush()
