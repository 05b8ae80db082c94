// Checks an object's variable-length string attributes against the file's bytes before
// libhdf5 reads them.
//
// libhdf5 (1.10, and 1.12 to 1.14 alike) reads a variable-length string by its reference -
// the string's length, a global heap collection's address and an object index (4 + 8 + 4
// bytes in the attribute's data) - and trusts it: H5HG_read looks the index up in the
// collection's table without a bounds check, and copies the whole object into a buffer sized
// by the reference's length. A damaged file (cpp/tests/fuzz_load_model.cpp found both) makes
// it read or write outside its buffers. Nothing in HDF5's API shows a reference before it is
// followed, so this parses the object's header (versions 1 and 2, its continuation chunks,
// its attribute messages) far enough to find the attribute's references and checks each
// against the collection it names: an object of that index must be there, no longer than
// the reference says.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember::io {

// Throws IOError (naming `where`) unless every reference in the attribute `name` of the object
// whose header is at `header_address` is sound. A file laid out in a way this does not know
// (an attribute kept in dense storage, a shared datatype, 4-byte addresses) is refused too:
// Keras's and h5py's files never are.
void check_vlen_attribute(const std::vector<char>& file, std::uint64_t header_address,
                          const std::string& name, const std::string& where);

}  // namespace ember::io
