// Typed exceptions of the engine. The bindings turn them into Python's
// ValueError / TypeError / OSError, so every message must name the argument,
// shape or layer at fault: it is what the user reads.
#pragma once
#include <stdexcept>
#include <string>

namespace ember {

// The base of every error the engine throws on bad input: what a C++ program catches.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ValueError : Error {
  using Error::Error;
};
struct TypeError : Error {
  using Error::Error;
};
struct IOError : Error {
  using Error::Error;
};

}  // namespace ember
