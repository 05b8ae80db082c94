// ember_io without its libraries (EMBER_IO=OFF, or HDF5 / libzip / nlohmann-json missing
// at configure time): the loader's entry points say so.
#include "ember/error.h"
#include "ember/load_model.h"

namespace ember {

namespace {

[[noreturn]] void unavailable(const std::string& what) {
  throw IOError("Cannot read '" + what + "': this ember was built without the model-file "
                "loader (configure with HDF5, libzip and nlohmann-json installed, EMBER_IO=ON).");
}

}  // namespace

LoadedModel load_model(const std::string& path) { unavailable(path); }

LoadedModel load_model_from_memory(const void*, size_t, const std::string& source) {
  unavailable(source);
}

void LoadedModel::load_weights(const std::string& path) { unavailable(path); }

}  // namespace ember
