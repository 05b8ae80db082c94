// Typed exceptions of the engine. The bindings turn them into Python's
// ValueError / TypeError / OSError, so every message must name the argument,
// shape or layer at fault: it is what the user reads.
#pragma once
#include <stdexcept>
#include <string>

namespace ember {

struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct IOError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ember
