#include "io/hdf5_image.h"

#include <cstring>
#include <utility>

#include "ember/error.h"
#include "io/hdf5_vlen_check.h"
#include "io/limits.h"

namespace ember::io {

std::string shape_string(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

namespace {

// While alive, HDF5 prints nothing to stderr for this thread (the stack is per thread in a
// thread-safe libhdf5); its messages are read with hdf5_message() instead.
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// What HDF5 said about its last failure: the innermost descriptions of its error stack.
std::string hdf5_message() {
  std::string said;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned n, const H5E_error2_t* err, void* out) -> herr_t {
        auto& s = *static_cast<std::string*>(out);
        if (n < 4 && err && err->desc && *err->desc) s += (s.empty() ? "" : "; ") + std::string(err->desc);
        return 0;
      },
      &said);
  H5Eclear2(H5E_DEFAULT);
  return said.empty() ? "no details" : said;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw IOError(where + ": " + what + " (HDF5 said: " + hdf5_message() + ")");
}

H5Handle object(hid_t id) { return H5Handle(id, H5Oclose); }

// Where the object's header starts in the file.
std::uint64_t header_address(hid_t id, const std::string& where) {
#if H5_VERS_MAJOR == 1 && H5_VERS_MINOR < 12
  H5O_info_t info;
  if (H5Oget_info2(id, &info, H5O_INFO_BASIC) < 0) fail(where, "cannot read its object header");
  return info.addr;
#else
  H5O_info2_t info;
  if (H5Oget_info3(id, &info, H5O_INFO_BASIC) < 0) fail(where, "cannot read its object header");
  haddr_t addr = HADDR_UNDEF;
  if (H5VLnative_token_to_addr(id, info.token, &addr) < 0) fail(where, "cannot read its address");
  return addr;
#endif
}

std::uint64_t le(const std::vector<char>& d, size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(d[at + i]);
  return v;
}

// libhdf5 (1.10 to 2.0 at least) trusts the global heap collections ("GCOL") that hold the
// file's variable-length strings - every string attribute h5py writes:
// - H5HG__cache_heap_deserialize walks a collection's objects by their sizes; an object of
//   index 0 (free space) and size 0 does not advance the walk: reading never returns;
// - an object whose size runs past its collection's end is copied out whole, reading past
//   libhdf5's buffer;
// The second was found by cpp/tests/fuzz_load_model.cpp (its input is kept in
// cpp/tests/data/regressions/). Every collection is walked here as libhdf5 will walk it,
// before libhdf5 sees the file, and both are refused. (The first check is also
// python/ember/saving/file_utils.py's.) Not checked: H5HG_read also looks a string's object
// index up in the collection's table unchecked, and copies the object into a buffer sized by
// the string's own length field; the references live inside attribute messages, which only
// a parser of HDF5's object headers could find (the fuzz loop found that one too).
void check_global_heaps(const std::vector<char>& d, const std::string& source) {
  static const char kSignature[8] = {'G', 'C', 'O', 'L', 1, 0, 0, 0};
  auto damaged = [&](std::uint64_t start, std::uint64_t at, const std::string& what) {
    return IOError("'" + source + "' is damaged: the HDF5 global heap at byte " +
                   std::to_string(start) + " has " + what + " at byte " + std::to_string(at));
  };
  for (size_t start = 0; start + 16 <= d.size(); ++start) {
    if (std::memcmp(d.data() + start, kSignature, 8) != 0) continue;
    const std::uint64_t size = le(d, start + 8, 8);
    if (size > d.size() - start) continue;  // libhdf5 cannot read it and says so
    const std::uint64_t end = start + size;
    std::uint64_t at = start + 16;
    while (at + 16 <= end) {
      const std::uint64_t index = le(d, at, 2), length = le(d, at + 8, 8);
      if (index == 0) {
        if (length == 0) throw damaged(start, at, "an object of size 0, which libhdf5 would read forever");
        if (length > end - at) break;  // free space to the end: libhdf5 stops there too
        at += length;
        continue;
      }
      if (length > end - at || 16 + (length + 7) / 8 * 8 > end - at) {
        throw damaged(start, at, "an object of " + std::to_string(length) +
                      " bytes that runs past the collection's end");
      }
      at += 16 + (length + 7) / 8 * 8;
    }
  }
}

std::vector<std::string> split_path(const std::string& relative, const std::string& where) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    const size_t slash = relative.find('/', begin);
    parts.push_back(relative.substr(begin, slash == std::string::npos ? slash : slash - begin));
    if (parts.back().empty()) throw IOError(where + ": the path '" + relative + "' is not valid");
    if (slash == std::string::npos) break;
    begin = slash + 1;
  }
  if (parts.size() > static_cast<size_t>(kMaxGroupDepth)) {
    throw IOError(where + ": the path '" + relative + "' is nested too deeply");
  }
  return parts;
}

// Whether `name` is a hard link in `loc` (false: no such link). Other links are refused.
bool hard_link(hid_t loc, const std::string& name, const std::string& where) {
  const htri_t exists = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
  if (exists < 0) fail(where, "cannot look up '" + name + "'");
  if (exists == 0) return false;
  H5L_info_t info;
  if (H5Lget_info(loc, name.c_str(), &info, H5P_DEFAULT) < 0) fail(where, "cannot read the link");
  if (info.type != H5L_TYPE_HARD) {
    throw IOError(where + ": '" + name + "' is a soft or external link, which model files "
                  "never hold (ember does not follow them)");
  }
  return true;
}

}  // namespace

H5Handle& H5Handle::operator=(H5Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
  }
  return *this;
}

void H5Handle::reset() {
  if (id_ >= 0 && close_) {
    QuietHdf5 quiet;
    close_(id_);
  }
  id_ = -1;
}

bool looks_like_hdf5(const std::vector<char>& bytes) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  return bytes.size() >= 8 && std::memcmp(bytes.data(), kSignature, 8) == 0;
}

std::shared_ptr<Hdf5Image> Hdf5Image::open(std::shared_ptr<const std::vector<char>> bytes,
                                           std::string source) {
  if (!bytes || bytes->empty()) throw IOError("'" + source + "' is empty, not an HDF5 file");
  check_global_heaps(*bytes, source);
  std::shared_ptr<Hdf5Image> image(new Hdf5Image(std::move(bytes), std::move(source)));
  QuietHdf5 quiet;
  // The core (memory) driver over a copy of the image, with no backing file: HDF5 never
  // touches the disk. (The high-level H5LTopen_file_image would avoid the copy, but leaks
  // its callback data in libhdf5 1.10.)
  H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), 1 << 20, 0) < 0 ||
      H5Pset_file_image(fapl.get(), const_cast<char*>(image->bytes_->data()),
                        image->bytes_->size()) < 0) {
    throw IOError("Cannot read '" + image->source_ + "': HDF5 could not take its image (" +
                  hdf5_message() + ")");
  }
  // The name only labels the image, but HDF5 takes two open files of one name for the same
  // file: each image's address makes it unique while the image lives.
  const std::string name = "ember-image-" + std::to_string(reinterpret_cast<std::uintptr_t>(
                                                image.get()));
  const hid_t f = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (f < 0) {
    throw IOError("'" + image->source_ +
                  "' is not a readable HDF5 file (truncated, or not HDF5 at all). HDF5 said: " +
                  hdf5_message());
  }
  image->file_ = H5Handle(f, H5Fclose);
  return image;
}

Hdf5Group Hdf5Image::root() const {
  QuietHdf5 quiet;
  const hid_t g = H5Gopen2(file_.get(), "/", H5P_DEFAULT);
  if (g < 0) fail("'" + source_ + "'", "cannot open the root group");
  return Hdf5Group(shared_from_this(), std::make_shared<H5Handle>(g, H5Gclose), "/");
}

void Hdf5Image::charge(std::uint64_t bytes, bool filtered, const std::string& where) const {
  const std::uint64_t file = bytes_->size();
  std::uint64_t& total = filtered ? read_filtered_ : read_plain_;
  const std::uint64_t cap = filtered ? file * kMaxDeflateRatio : file;
  if (bytes > cap || total > cap - bytes) {
    throw IOError(where + ": the file's datasets claim more data (" +
                  std::to_string(total + bytes) + " bytes) than a file of " +
                  std::to_string(file) + " bytes can hold; it is damaged");
  }
  total += bytes;
}

std::string Hdf5Group::where(const std::string& name) const {
  return "'" + image_->source_ + "': " + (path_ == "/" ? "/" : path_ + "/") + name;
}

std::vector<std::string> Hdf5Group::links() const {
  QuietHdf5 quiet;
  struct State {
    std::vector<std::string> names;
    bool not_hard = false, too_many = false;
  } state;
  const herr_t rc = H5Literate(
      id_->get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        auto& s = *static_cast<State*>(data);
        if (info->type != H5L_TYPE_HARD) {
          s.not_hard = true;
          return 1;
        }
        if (s.names.size() >= kMaxGroupLinks) {
          s.too_many = true;
          return 1;
        }
        s.names.emplace_back(name);
        return 0;
      },
      &state);
  if (state.not_hard) {
    throw IOError(where("") + " holds a soft or external link, which model files never hold");
  }
  if (state.too_many) throw IOError(where("") + " holds more links than any model file");
  if (rc < 0) fail(where(""), "cannot list the group");
  return state.names;
}

H5Handle Hdf5Group::open_object(const std::string& relative) const {
  const auto parts = split_path(relative, where(relative));
  H5Handle current;
  hid_t loc = id_->get();
  for (const auto& part : parts) {
    if (!hard_link(loc, part, where(relative))) return H5Handle();
    const hid_t next = H5Oopen(loc, part.c_str(), H5P_DEFAULT);
    if (next < 0) fail(where(relative), "cannot open '" + part + "'");
    current = object(next);
    loc = next;
  }
  return current;
}

std::optional<Hdf5Group> Hdf5Group::group(const std::string& name) const {
  QuietHdf5 quiet;
  if (name.empty() || name.find('/') != std::string::npos) {
    throw IOError(where(name) + ": not a group name");
  }
  H5Handle h = open_object(name);
  if (!h.valid()) return std::nullopt;
  if (H5Iget_type(h.get()) != H5I_GROUP) throw IOError(where(name) + " is not a group");
  return Hdf5Group(image_, std::make_shared<H5Handle>(std::move(h)),
                   (path_ == "/" ? "/" : path_ + "/") + name);
}

std::optional<Hdf5Group> Hdf5Group::group_if_group(const std::string& name) const {
  QuietHdf5 quiet;
  H5Handle h = open_object(name);
  if (!h.valid() || H5Iget_type(h.get()) != H5I_GROUP) return std::nullopt;
  return Hdf5Group(image_, std::make_shared<H5Handle>(std::move(h)),
                   (path_ == "/" ? "/" : path_ + "/") + name);
}

bool Hdf5Group::has_dataset(const std::string& relative) const {
  QuietHdf5 quiet;
  H5Handle h = open_object(relative);
  return h.valid() && H5Iget_type(h.get()) == H5I_DATASET;
}

SavedArray Hdf5Group::dataset(const std::string& relative) const {
  QuietHdf5 quiet;
  const std::string at = where(relative);
  H5Handle d = open_object(relative);
  if (!d.valid()) throw IOError(at + ": no such dataset");
  if (H5Iget_type(d.get()) != H5I_DATASET) throw IOError(at + " is not a dataset");

  H5Handle type(H5Dget_type(d.get()), H5Tclose);
  if (!type.valid()) fail(at, "cannot read the dataset's type");
  const H5T_class_t cls = H5Tget_class(type.get());
  const size_t type_size = H5Tget_size(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    throw TypeError(at + ": a weight must hold numbers, but this dataset's type is not a float "
                    "or integer type");
  }
  if (type_size == 0 || type_size > 16) throw TypeError(at + ": its number type is not valid");

  H5Handle space(H5Dget_space(d.get()), H5Sclose);
  if (!space.valid()) fail(at, "cannot read the dataset's shape");
  SavedArray array;
  array.path = (path_ == "/" ? "" : path_.substr(1) + "/") + relative;
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  std::uint64_t count = 1;
  if (space_class == H5S_SIMPLE) {
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > kMaxArrayRank) {
      throw IOError(at + ": a weight of rank " + std::to_string(rank) + " (at most " +
                    std::to_string(kMaxArrayRank) + ")");
    }
    hsize_t dims[kMaxArrayRank] = {};
    if (H5Sget_simple_extent_dims(space.get(), dims, nullptr) < 0) fail(at, "bad shape");
    for (int i = 0; i < rank; ++i) {
      if (dims[i] > (std::uint64_t{1} << 40) || (dims[i] && count > (std::uint64_t{1} << 40) / dims[i])) {
        throw IOError(at + ": the shape is absurdly large");
      }
      count *= dims[i];
      array.shape.push_back(static_cast<int64_t>(dims[i]));
    }
  } else if (space_class != H5S_SCALAR) {
    throw IOError(at + ": the dataset holds no values (a null dataspace)");
  }

  H5Handle dcpl(H5Dget_create_plist(d.get()), H5Pclose);
  if (!dcpl.valid()) fail(at, "cannot read how the dataset is stored");
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED) {
    throw IOError(at + ": the dataset is stored in a layout model files never use (virtual, "
                  "or damaged)");
  }
  if (H5Pget_external_count(dcpl.get()) != 0) {
    throw IOError(at + ": the dataset's values live in external files, which ember does not "
                  "read");
  }
  const int filters = H5Pget_nfilters(dcpl.get());
  if (filters < 0) fail(at, "cannot read the dataset's filters");
  const std::uint64_t bytes = count * type_size;
  const std::uint64_t stored = H5Dget_storage_size(d.get());
  if (filters == 0 ? stored < bytes : bytes > stored * kMaxDeflateRatio) {
    throw IOError(at + ": the dataset claims " + std::to_string(bytes) + " bytes of values, "
                  "but the file stores " + std::to_string(stored) + " for it; it is damaged");
  }
  image_->charge(bytes, filters != 0, at);
  array.values.resize(count);
  if (count &&
      H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, array.values.data()) < 0) {
    fail(at, "cannot read the dataset's values as float32");
  }
  return array;
}

bool Hdf5Group::has_attribute(const std::string& name) const {
  QuietHdf5 quiet;
  const htri_t rc = H5Aexists(id_->get(), name.c_str());
  if (rc < 0) fail(where("") + " attribute '" + name + "'", "cannot look it up");
  return rc > 0;
}

std::vector<std::string> Hdf5Group::read_strings(const std::string& name, bool want_list) const {
  QuietHdf5 quiet;
  const std::string at = where("") + " attribute '" + name + "'";
  H5Handle attr(H5Aopen(id_->get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) fail(at, "cannot open it");
  H5Handle type(H5Aget_type(attr.get()), H5Tclose);
  H5Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.valid() || !space.valid()) fail(at, "cannot read its type");
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0) fail(at, "cannot read its shape");
  const auto n = static_cast<std::uint64_t>(points);
  if (want_list && n == 0) return {};  // h5py stores [] as an empty float array
  if (H5Tget_class(type.get()) != H5T_STRING) throw TypeError(at + " is not a string");
  if (!want_list && n != 1) {
    throw TypeError(at + " holds " + std::to_string(n) + " values, not one string");
  }
  if (n > kMaxAttributeBytes) throw IOError(at + " is absurdly large");
  std::vector<std::string> out;
  out.reserve(n);
  std::uint64_t total = 0;
  const htri_t variable = H5Tis_variable_str(type.get());
  if (variable < 0) fail(at, "cannot read its string type");
  if (variable) {
    check_vlen_attribute(*image_->bytes_, header_address(id_->get(), at), name, at);
    H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!mem.valid() || H5Tset_size(mem.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(mem.get(), H5Tget_cset(type.get())) < 0) {
      fail(at, "cannot make a string type");
    }
    std::vector<char*> strings(n, nullptr);
    if (H5Aread(attr.get(), mem.get(), strings.data()) < 0) fail(at, "cannot read it");
    // Frees what HDF5 allocated for the strings, however this block is left.
    struct Reclaim {
      hid_t mem, space;
      std::vector<char*>& strings;
      ~Reclaim() { H5Dvlen_reclaim(mem, space, H5P_DEFAULT, strings.data()); }
    } reclaim{mem.get(), space.get(), strings};
    for (const char* s : strings) {
      const size_t len = s ? std::strlen(s) : 0;
      total += len;
      if (total > kMaxAttributeBytes) throw IOError(at + " is absurdly large");
      out.emplace_back(s ? s : "", len);
    }
  } else {
    const size_t size = H5Tget_size(type.get());
    if (size == 0 || n * size > kMaxAttributeBytes) throw IOError(at + " is absurdly large");
    H5Handle mem(H5Tcopy(type.get()), H5Tclose);
    if (!mem.valid()) fail(at, "cannot make a string type");
    std::vector<char> buffer(n * size);
    if (H5Aread(attr.get(), mem.get(), buffer.data()) < 0) fail(at, "cannot read it");
    for (std::uint64_t i = 0; i < n; ++i) {
      const char* s = buffer.data() + i * size;
      out.emplace_back(s, strnlen(s, size));
    }
  }
  return out;
}

std::string Hdf5Group::string_attribute(const std::string& name) const {
  return read_strings(name, false).front();
}

std::vector<std::string> Hdf5Group::string_list_attribute(const std::string& name) const {
  if (has_attribute(name)) return read_strings(name, true);
  std::vector<std::string> joined;
  for (size_t i = 0; i < kMaxGroupLinks && has_attribute(name + std::to_string(i)); ++i) {
    auto part = read_strings(name + std::to_string(i), true);
    if (joined.size() + part.size() > kMaxGroupLinks) {
      throw IOError(where("") + " attribute '" + name + "' lists too many names");
    }
    joined.insert(joined.end(), part.begin(), part.end());
  }
  return joined;
}

}  // namespace ember::io
