#include "io/hdf5_vlen_check.h"

#include <cstring>

#include "ember/error.h"
#include "io/limits.h"

namespace ember::io {

namespace {

// Reads little-endian numbers inside [0, size) of the file, refusing anything past its end.
struct Reader {
  const std::vector<char>& d;
  const std::string& where;
  [[noreturn]] void bad(const std::string& what) const {
    throw IOError(where + ": the object header is damaged (" + what + ")");
  }
  std::uint64_t at(std::uint64_t pos, int bytes) const {
    if (pos > d.size() || static_cast<std::uint64_t>(bytes) > d.size() - pos) {
      bad("it runs past the end of the file");
    }
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(d[pos + i]);
    return v;
  }
};

constexpr int kMaxChunks = 64;
constexpr std::uint64_t kAttributeMessage = 0x000C, kContinuationMessage = 0x0010,
                        kAttributeInfoMessage = 0x0015;

struct Message {
  std::uint64_t type, data, size;  // data: the message body's position in the file
};

// The messages of an object header and of its continuation chunks.
std::vector<Message> header_messages(const Reader& r, std::uint64_t address) {
  std::vector<Message> out;
  struct Chunk {
    std::uint64_t begin, end;
  };
  std::vector<Chunk> chunks;
  bool v2 = false;
  int creation_order_bytes = 0;
  if (r.at(address, 4) == 0x5244484FU) {  // "OHDR": version 2
    v2 = true;
    if (r.at(address + 4, 1) != 2) r.bad("unknown version");
    const auto flags = r.at(address + 5, 1);
    std::uint64_t pos = address + 6;
    if (flags & 0x20) pos += 16;  // times
    if (flags & 0x10) pos += 4;   // attribute storage phase change
    const int size_bytes = 1 << (flags & 3);
    const auto size = r.at(pos, size_bytes);
    pos += static_cast<std::uint64_t>(size_bytes);
    creation_order_bytes = (flags & 0x04) ? 2 : 0;
    if (size > r.d.size() - std::min<std::uint64_t>(pos, r.d.size())) r.bad("chunk size");
    chunks.push_back({pos, pos + size});  // the checksum follows the chunk
  } else {
    if (r.at(address, 1) != 1) r.bad("unknown version");
    const auto size = r.at(address + 8, 4);
    if (size > r.d.size()) r.bad("chunk size");
    chunks.push_back({address + 16, address + 16 + size});
  }
  for (size_t c = 0; c < chunks.size(); ++c) {
    if (chunks.size() > static_cast<size_t>(kMaxChunks)) r.bad("too many continuation chunks");
    std::uint64_t pos = chunks[c].begin;
    const std::uint64_t end = chunks[c].end;
    const std::uint64_t prefix = v2 ? 4 + static_cast<std::uint64_t>(creation_order_bytes) : 8;
    while (pos + prefix <= end) {
      const std::uint64_t type = v2 ? r.at(pos, 1) : r.at(pos, 2);
      const std::uint64_t size = r.at(pos + (v2 ? 1 : 2), 2);
      const std::uint64_t data = pos + prefix;
      if (size > end - data) r.bad("a message runs past its chunk");
      out.push_back({type, data, size});
      if (type == kContinuationMessage) {
        const auto offset = r.at(data, 8), length = r.at(data + 8, 8);
        if (offset > r.d.size() || length > r.d.size() - offset) r.bad("continuation chunk");
        // A version 2 continuation chunk is "OCHK", its messages, and a checksum.
        if (v2) {
          if (length < 8 || r.at(offset, 4) != 0x4B48434FU) r.bad("continuation chunk");
          chunks.push_back({offset + 4, offset + length - 4});
        } else {
          chunks.push_back({offset, offset + length});
        }
      }
      pos = data + size;
      if (v2 && end - pos < prefix) break;  // gap at the chunk's end
    }
  }
  return out;
}

// Walks the global heap collection at `address` as libhdf5 does; the size of object `index`,
// or nothing when the collection holds no such object.
bool heap_object_size(const Reader& r, std::uint64_t address, std::uint64_t index,
                      std::uint64_t& size) {
  if (address > r.d.size() || r.d.size() - address < 16 ||
      std::memcmp(r.d.data() + address, "GCOL\x01", 5) != 0) {
    return false;
  }
  const std::uint64_t collection = r.at(address + 8, 8);
  if (collection > r.d.size() - address) return false;
  const std::uint64_t end = address + collection;
  bool found = false;
  for (std::uint64_t pos = address + 16; pos + 16 <= end;) {
    const std::uint64_t i = r.at(pos, 2), length = r.at(pos + 8, 8);
    if (i == 0) {
      if (length == 0 || length > end - pos) break;
      pos += length;
      continue;
    }
    const std::uint64_t need = 16 + (length + 7) / 8 * 8;
    if (length > end - pos || need > end - pos) break;
    if (i == index) {  // a later entry of an index replaces an earlier one, as in libhdf5
      size = length;
      found = true;
    }
    pos += need;
  }
  return found;
}

}  // namespace

void check_vlen_attribute(const std::vector<char>& file, std::uint64_t header_address,
                          const std::string& name, const std::string& where) {
  const Reader r{file, where};
  for (const auto& m : header_messages(r, header_address)) {
    if (m.type == kAttributeInfoMessage && m.size >= 10) {
      const auto flags = r.at(m.data + 1, 1);
      const std::uint64_t heap = r.at(m.data + 2 + ((flags & 1) ? 2 : 0), 8);
      if (heap != ~std::uint64_t{0}) {
        throw IOError(where + ": its attributes are kept in dense storage, which ember does "
                      "not read (Keras's and h5py's files never use it)");
      }
    }
    if (m.type != kAttributeMessage || m.size < 8) continue;
    const auto version = r.at(m.data, 1), flags = r.at(m.data + 1, 1);
    const auto name_size = r.at(m.data + 2, 2), type_size = r.at(m.data + 4, 2),
               space_size = r.at(m.data + 6, 2);
    auto pad = [&](std::uint64_t n) { return version == 1 ? (n + 7) / 8 * 8 : n; };
    const std::uint64_t name_at = m.data + (version == 3 ? 9 : 8);
    const std::uint64_t type_at = name_at + pad(name_size);
    const std::uint64_t space_at = type_at + pad(type_size);
    const std::uint64_t data_at = space_at + pad(space_size);
    if (version < 1 || version > 3 || data_at > m.data + m.size || name_size == 0) {
      r.bad("an attribute message");
    }
    const std::string stored(file.data() + name_at,
                             strnlen(file.data() + name_at, static_cast<size_t>(name_size)));
    if (stored != name) continue;
    if (flags & 3) {
      throw IOError(where + ": its datatype or dataspace is shared, which ember does not read "
                    "(Keras's and h5py's files never share them)");
    }
    if ((r.at(type_at, 1) & 0x0f) != 9) return;  // not variable-length: nothing to follow
    // Dataspace: version, rank, flags, then (version 1) 5 reserved bytes or (2) a type byte.
    const auto space_version = r.at(space_at, 1), rank = r.at(space_at + 1, 1);
    std::uint64_t count = 1;
    if (space_version == 2 && r.at(space_at + 3, 1) == 2) count = 0;  // a null dataspace
    const std::uint64_t dims_at = space_at + (space_version == 1 ? 8 : 4);
    for (std::uint64_t i = 0; i < rank && count; ++i) {
      const auto dim = r.at(dims_at + 8 * i, 8);
      if (dim > (std::uint64_t{1} << 32) || count > (std::uint64_t{1} << 32) / (dim ? dim : 1)) {
        r.bad("an attribute's shape");
      }
      count *= dim;
    }
    if (count > (m.data + m.size - data_at) / 16) r.bad("an attribute's data");
    // The base type's size (bytes 4-7 of the base datatype, after the 8-byte header): libhdf5
    // allocates and clears length x that for each value (a string's base type is 1 byte).
    const std::uint64_t element = r.at(type_at + 8 + 4, 4);
    if (element == 0 || element > 64) r.bad("a variable-length value's base type");
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t ref = data_at + 16 * i;
      const auto length = r.at(ref, 4), address = r.at(ref + 4, 8), index = r.at(ref + 12, 4);
      if (length == 0) continue;  // libhdf5 reads nothing for an empty string
      if (length > kMaxAttributeBytes / element) {  // libhdf5 allocates what the length says
        throw IOError(where + ": attribute '" + name + "' claims a value of " +
                      std::to_string(length) + " elements of " + std::to_string(element) +
                      " bytes; the file is damaged");
      }
      std::uint64_t size = 0;
      if (!heap_object_size(r, address, index, size)) {
        throw IOError(where + ": attribute '" + name + "' refers to object " +
                      std::to_string(index) + " of the global heap at byte " +
                      std::to_string(address) + ", which holds no such object; the file is "
                      "damaged");
      }
      if (size > length * element) {
        throw IOError(where + ": attribute '" + name + "' refers to a global heap object of " +
                      std::to_string(size) + " bytes for a value of " +
                      std::to_string(length * element) + "; the file is damaged");
      }
    }
    return;
  }
  throw IOError(where + ": attribute '" + name + "' was not found in the object header; the "
                "file is damaged");
}

}  // namespace ember::io
