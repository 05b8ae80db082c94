#include "io/model_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

#include "ember/error.h"
#include "io/hdf5_image.h"
#include "io/limits.h"
#include "io/zip_archive.h"

namespace ember::io {

namespace {

// Groups of a Keras 3 weights file visited in all: a hard link may point a group back at
// one of its ancestors, and this bounds the walk such a cycle would make.
constexpr size_t kMaxGroups = 1u << 16;

struct Walk {
  size_t groups = 0;
};

bool is_index(const std::string& s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         (s == "0" || s[0] != '0');
}

WeightsGroup read_group(const Hdf5Group& group, std::string key, int depth, Walk& walk) {
  if (depth > kMaxGroupDepth) {
    throw IOError("'" + group.path() + "': the weights file nests groups more than " +
                  std::to_string(kMaxGroupDepth) + " deep (a group linked into itself?)");
  }
  if (++walk.groups > kMaxGroups) {
    throw IOError("'" + group.path() + "': the weights file has more than " +
                  std::to_string(kMaxGroups) + " groups (a group linked into itself?)");
  }
  WeightsGroup out;
  out.key = std::move(key);
  for (const auto& name : group.links()) {
    if (name == "vars") {
      auto vars = group.group("vars");
      if (!vars) continue;  // a dataset named vars: not Keras's
      std::vector<std::pair<int, std::string>> numbered;
      for (const auto& v : vars->links()) {
        if (!is_index(v)) {
          throw IOError(vars->path() + "/" + v + ": a weights group's variables are named 0, "
                        "1, 2, ...");
        }
        numbered.emplace_back(std::stoi(v), v);
      }
      std::sort(numbered.begin(), numbered.end());
      for (size_t i = 0; i < numbered.size(); ++i) {
        if (numbered[i].first != static_cast<int>(i)) {
          throw IOError(vars->path() + ": variable " + std::to_string(i) + " is missing");
        }
        out.vars.push_back(vars->dataset(numbered[i].second));
      }
    } else if (auto child = group.group_if_group(name)) {
      out.children.push_back(read_group(*child, name, depth + 1, walk));
    }
  }
  return out;
}

// Keras's json_utils writes tuples as {"class_name": "__tuple__", "items": [...]}.
void untuple(nlohmann::json& j, int depth) {
  if (depth > kMaxJsonDepth) throw ValueError("a JSON config nests too deeply");
  if (j.is_object()) {
    auto cls = j.find("class_name");
    auto items = j.find("items");
    if (cls != j.end() && *cls == "__tuple__" && items != j.end() && items->is_array()) {
      nlohmann::json list = std::move(*items);
      j = std::move(list);
      untuple(j, depth + 1);
      return;
    }
    for (auto& [k, v] : j.items()) untuple(v, depth + 1);
  } else if (j.is_array()) {
    for (auto& v : j) untuple(v, depth + 1);
  }
}

std::vector<SavedArray> read_named(const Hdf5Group& group,
                                   const std::vector<std::string>& names) {
  std::vector<SavedArray> out;
  out.reserve(std::min<size_t>(names.size(), 4096));
  for (const auto& n : names) out.push_back(group.dataset(n));
  return out;
}

std::vector<LegacyLayerWeights> read_legacy_layers(const Hdf5Group& weights) {
  std::vector<LegacyLayerWeights> out;
  for (const auto& name : weights.string_list_attribute("layer_names")) {
    std::optional<Hdf5Group> group;
    if (!name.empty() && name.find('/') == std::string::npos) group = weights.group(name);
    if (!group) {
      throw IOError("'" + weights.path() + "': layer_names lists '" + name +
                    "', but the file has no group of that name");
    }
    LegacyLayerWeights layer;
    layer.name = name;
    layer.weight_names = group->string_list_attribute("weight_names");
    layer.values = read_named(*group, layer.weight_names);
    out.push_back(std::move(layer));
  }
  return out;
}

ModelFile read_legacy_h5(const Hdf5Group& root, ModelFile file, bool weights_only) {
  file.layout = ModelFile::Layout::kLegacy;
  if (root.has_attribute("keras_version")) file.keras_version = root.string_attribute("keras_version");
  if (!weights_only) {
    if (!root.has_attribute("model_config")) {
      throw ValueError("No model config found in the file at '" + file.source +
                       "'. (A file written by save_weights holds weights only: build the "
                       "model and call load_weights.)");
    }
    file.model_config = parse_json(root.string_attribute("model_config"),
                                   "the model_config of '" + file.source + "'");
    untuple(file.model_config, 0);
    if (root.has_attribute("training_config")) {
      file.compile_config = parse_json(root.string_attribute("training_config"),
                                       "the training_config of '" + file.source + "'");
      untuple(file.compile_config, 0);
    }
  }
  // A model file keeps its weights under model_weights; Keras 2's save_weights at the root.
  auto weights = root.group("model_weights");
  if (!weights) {
    if (!root.has_attribute("layer_names")) {
      throw ValueError("'" + file.source + "' has no model_weights: it holds no weights.");
    }
    weights = root;
  }
  file.legacy = read_legacy_layers(*weights);
  if (auto opt = root.group("optimizer_weights")) {
    file.legacy_optimizer = read_named(*opt, opt->string_list_attribute("weight_names"));
  }
  return file;
}

ModelFile read_keras3_weights(const Hdf5Group& root, ModelFile file) {
  file.layout = ModelFile::Layout::kKeras3;
  Walk walk;
  file.weights = read_group(root, "", 0, walk);
  return file;
}

bool keras3_layout(const Hdf5Group& root) {
  // Keras 3's writes a root vars/ group and, for a model with layers, layers/ (Keras 2.13's
  // "_layer_checkpoint_dependencies"); the legacy layout has neither.
  return !root.has_attribute("layer_names") && !root.has_attribute("model_config") &&
         !root.group("model_weights");
}

}  // namespace

const WeightsGroup* WeightsGroup::child(const std::string& name) const {
  for (const auto& c : children) {
    if (c.key == name) return &c;
  }
  return nullptr;
}

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  if (text.size() > kMaxJsonBytes) {
    throw ValueError(what + " is " + std::to_string(text.size()) + " bytes of JSON, more than " +
                     "a model config could need");
  }
  try {
    return nlohmann::json::parse(
        text, [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
          if (depth > kMaxJsonDepth) {
            throw ValueError(what + " nests deeper than " + std::to_string(kMaxJsonDepth) +
                             " levels");
          }
          return true;
        });
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(what + " is not valid JSON: " + e.what());
  }
}

std::shared_ptr<const std::vector<char>> read_file_bytes(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    throw IOError("Cannot open '" + path + "': " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) throw IOError("Expected a file but '" + path + "' is a folder.");
  if (!S_ISREG(st.st_mode)) throw IOError("'" + path + "' is not a regular file.");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes) {
    throw IOError("'" + path + "' is larger than any model file ember reads.");
  }
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw IOError("Cannot open '" + path + "': " + std::strerror(errno));
  auto bytes = std::make_shared<std::vector<char>>(static_cast<size_t>(st.st_size));
  const size_t got = bytes->empty() ? 0 : std::fread(bytes->data(), 1, bytes->size(), f.get());
  if (got != bytes->size()) throw IOError("Cannot read '" + path + "' (it changed while read?).");
  return bytes;
}

ModelFile read_model_file(std::shared_ptr<const std::vector<char>> bytes, std::string source) {
  ModelFile file;
  file.source = source;
  if (looks_like_zip(*bytes)) {
    ZipArchive zip(bytes, source);
    for (const char* name : {"config.json", "model.weights.h5"}) {
      if (!zip.has(name)) {
        std::string entries;
        for (const auto& n : zip.names()) entries += (entries.empty() ? "" : ", ") + n;
        throw ValueError("'" + source + "' is a zip archive but not a .keras model file: it " +
                         "has no " + name + " (entries: " + entries + ").");
      }
    }
    const auto text = zip.read("config.json", kMaxJsonBytes);
    nlohmann::json config = parse_json({text.begin(), text.end()},
                                       "the config.json inside '" + source + "'");
    if (!config.is_object() || !config.contains("class_name") || !config.contains("config")) {
      throw ValueError("The config.json inside '" + source +
                       "' is not a model config (no class_name and config).");
    }
    if (config.contains("compile_config")) {
      file.compile_config = std::move(config["compile_config"]);
      config.erase("compile_config");
    }
    file.model_config = std::move(config);
    if (zip.has("metadata.json")) {
      const auto meta_text = zip.read("metadata.json", kMaxJsonBytes);
      const auto meta = parse_json({meta_text.begin(), meta_text.end()},
                                   "the metadata.json inside '" + source + "'");
      if (meta.is_object() && meta.contains("keras_version") && meta["keras_version"].is_string()) {
        file.keras_version = meta["keras_version"].get<std::string>();
      }
    }
    auto weights = std::make_shared<const std::vector<char>>(
        zip.read("model.weights.h5", kMaxFileBytes));
    auto image = Hdf5Image::open(weights, source + "'s model.weights.h5");
    return read_keras3_weights(image->root(), std::move(file));
  }
  if (looks_like_hdf5(*bytes)) {
    auto image = Hdf5Image::open(bytes, source);
    return read_legacy_h5(image->root(), std::move(file), false);
  }
  throw IOError("Cannot read '" + source + "' as a model: it is neither a .keras archive (zip) "
                "nor an .h5 file (HDF5), by its first bytes.");
}

ModelFile read_weights_file(std::shared_ptr<const std::vector<char>> bytes, std::string source) {
  ModelFile file;
  file.source = source;
  if (!looks_like_hdf5(*bytes)) {
    throw IOError("Cannot read '" + source + "' as weights: it is not an HDF5 file (a "
                  ".weights.h5 or .h5), by its first bytes.");
  }
  auto image = Hdf5Image::open(bytes, source);
  const auto root = image->root();
  if (keras3_layout(root)) return read_keras3_weights(root, std::move(file));
  return read_legacy_h5(root, std::move(file), true);
}

}  // namespace ember::io
