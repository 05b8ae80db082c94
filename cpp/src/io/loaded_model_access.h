// How the loader fills a LoadedModel's private parts (ember/load_model.h).
#pragma once
#include "ember/load_model.h"

namespace ember {

struct LoadedModelAccess {
  static std::shared_ptr<Model>& model(LoadedModel& m) { return m.model_; }
  static std::vector<Shape>& input_shapes(LoadedModel& m) { return m.input_shapes_; }
  static std::vector<Shape>& output_shapes(LoadedModel& m) { return m.output_shapes_; }
  static std::vector<std::string>& input_names(LoadedModel& m) { return m.input_names_; }
  static std::vector<std::string>& output_names(LoadedModel& m) { return m.output_names_; }
  static std::string& name(LoadedModel& m) { return m.name_; }
  static std::shared_ptr<const void>& layout(LoadedModel& m) { return m.layout_; }
  static const std::shared_ptr<const void>& layout(const LoadedModel& m) { return m.layout_; }
};

}  // namespace ember
