// ember::load_model and LoadedModel::load_weights: read the file (model_file.h), then build
// (model_builder.h).
#include "ember/error.h"
#include "ember/load_model.h"
#include "io/model_builder.h"
#include "io/model_file.h"

namespace ember {

LoadedModel load_model(const std::string& path) {
  return io::build_loaded_model(io::read_model_file(io::read_file_bytes(path), path));
}

LoadedModel load_model_from_memory(const void* data, size_t size, const std::string& source) {
  if (!data && size) throw ValueError("load_model_from_memory(): data is null");
  const char* bytes = static_cast<const char*>(data);
  auto copy = std::make_shared<const std::vector<char>>(bytes, bytes + size);
  return io::build_loaded_model(io::read_model_file(std::move(copy), source));
}

void LoadedModel::load_weights(const std::string& path) {
  io::assign_weights(*this, io::read_weights_file(io::read_file_bytes(path), path));
}

}  // namespace ember
