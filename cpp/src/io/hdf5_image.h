// Reading an HDF5 file held in memory, through HDF5's C library, with every length it
// reports checked before it is allocated. Only what model files use is offered: groups
// reached by hard links, string attributes, and numeric datasets read as float32.
// Every failure is an ember::IOError naming the file, the object and what HDF5 said.
//
// Thread safety: the library is built thread-safe on Debian (one global lock inside
// libhdf5); an image object is used by one thread at a time.
#pragma once
#include <hdf5.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/saved_array.h"

namespace ember::io {

// An HDF5 identifier closed by its own closer (H5Fclose, H5Gclose, ...).
class H5Handle {
 public:
  H5Handle() = default;
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  H5Handle(H5Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  H5Handle& operator=(H5Handle&& o) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

class Hdf5Image;

// A group of an open image. Cheap to pass around; it keeps its image alive.
class Hdf5Group {
 public:
  const std::string& path() const { return path_; }  // "/" for the root, else "/a/b"
  // The names of the links in this group, in name order (at most limits' kMaxGroupLinks).
  // Only hard links are listed; a soft or external link is an IOError (no Keras file has
  // one, and an external link would make HDF5 open another file).
  std::vector<std::string> links() const;
  // The subgroup `name` (one link, no "/"), or nothing when there is none.
  std::optional<Hdf5Group> group(const std::string& name) const;
  // The same, but nothing also when `name` is a dataset.
  std::optional<Hdf5Group> group_if_group(const std::string& name) const;
  // Whether `relative` ("a", or "a/b/c") names a dataset below this group.
  bool has_dataset(const std::string& relative) const;
  // The dataset at `relative`, as float32 (float and integer datasets only).
  SavedArray dataset(const std::string& relative) const;

  bool has_attribute(const std::string& name) const;
  // A string attribute (scalar, or an array of one string).
  std::string string_attribute(const std::string& name) const;
  // A list of strings; an empty array of any type is an empty list. Keras splits a list
  // too big for one object header into name0, name1, ...: those are joined.
  std::vector<std::string> string_list_attribute(const std::string& name) const;

 private:
  friend class Hdf5Image;
  Hdf5Group(std::shared_ptr<const Hdf5Image> image, std::shared_ptr<H5Handle> id,
            std::string path)
      : image_(std::move(image)), id_(std::move(id)), path_(std::move(path)) {}
  std::vector<std::string> read_strings(const std::string& name, bool want_list) const;
  // Opens `relative` through hard links only, one component at a time.
  H5Handle open_object(const std::string& relative) const;
  std::string where(const std::string& name) const;  // "'file': /a/b/name"
  std::shared_ptr<const Hdf5Image> image_;
  std::shared_ptr<H5Handle> id_;
  std::string path_;
};

class Hdf5Image : public std::enable_shared_from_this<Hdf5Image> {
 public:
  // Opens `bytes` (an HDF5 file image) read-only without copying it; `source` names
  // the file in messages. Throws IOError when it is not a readable HDF5 file.
  static std::shared_ptr<Hdf5Image> open(std::shared_ptr<const std::vector<char>> bytes,
                                         std::string source);
  Hdf5Group root() const;
  const std::string& source() const { return source_; }

 private:
  friend class Hdf5Group;
  Hdf5Image(std::shared_ptr<const std::vector<char>> bytes, std::string source)
      : bytes_(std::move(bytes)), source_(std::move(source)) {}
  // Counts the bytes datasets are read into: together they may not exceed what the
  // file could hold (a hostile file can point many datasets at the same storage).
  void charge(std::uint64_t bytes, bool filtered, const std::string& where) const;
  std::shared_ptr<const std::vector<char>> bytes_;
  std::string source_;
  H5Handle file_;
  mutable std::uint64_t read_plain_ = 0, read_filtered_ = 0;
};

// Whether `bytes` begins like an HDF5 file (its signature at byte 0, as Keras writes it).
bool looks_like_hdf5(const std::vector<char>& bytes);

}  // namespace ember::io
