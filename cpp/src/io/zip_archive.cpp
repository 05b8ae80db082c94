#include "io/zip_archive.h"

#include <zip.h>

#include <cstring>

#include "ember/error.h"
#include "io/limits.h"

namespace ember::io {

namespace {

std::string zip_message(zip_error_t* error) {
  const char* s = zip_error_strerror(error);
  return s ? s : "unknown error";
}

}  // namespace

struct ZipArchive::Impl {
  zip_t* archive = nullptr;
  ~Impl() {
    if (archive) zip_discard(archive);  // read-only: nothing to write back
  }
};

bool looks_like_zip(const std::vector<char>& bytes) {
  return bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K' &&
         ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6));
}

ZipArchive::ZipArchive(std::shared_ptr<const std::vector<char>> bytes, std::string source)
    : bytes_(std::move(bytes)), source_(std::move(source)), impl_(std::make_unique<Impl>()) {
  zip_error_t error;
  zip_error_init(&error);
  // freep 0: the source reads bytes_ in place and never frees it.
  zip_source_t* src = zip_source_buffer_create(bytes_->data(), bytes_->size(), 0, &error);
  if (!src) {
    const std::string said = zip_message(&error);
    zip_error_fini(&error);
    throw IOError("Cannot read '" + source_ + "' as a .keras file: " + said);
  }
  // ZIP_CHECKCONS: the central directory must agree with the local headers.
  impl_->archive = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!impl_->archive) {
    zip_source_free(src);
    const std::string said = zip_message(&error);
    zip_error_fini(&error);
    throw IOError("Cannot read '" + source_ +
                  "' as a .keras file: it is not a readable zip archive (truncated, or not a "
                  ".keras file at all). libzip said: " + said);
  }
  zip_error_fini(&error);
}

ZipArchive::~ZipArchive() = default;

bool ZipArchive::has(const std::string& name) const {
  return zip_name_locate(impl_->archive, name.c_str(), 0) >= 0;
}

std::vector<std::string> ZipArchive::names() const {
  std::vector<std::string> out;
  const zip_int64_t n = zip_get_num_entries(impl_->archive, 0);
  for (zip_int64_t i = 0; i < n && i < 64; ++i) {
    const char* name = zip_get_name(impl_->archive, static_cast<zip_uint64_t>(i), 0);
    if (name) out.emplace_back(name);
  }
  if (n > 64) out.emplace_back("...");
  return out;
}

std::vector<char> ZipArchive::read(const std::string& name, std::uint64_t max_bytes) const {
  const std::string at = "'" + source_ + "': the entry " + name;
  const zip_int64_t index = zip_name_locate(impl_->archive, name.c_str(), 0);
  if (index < 0) throw IOError(at + " is missing");
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(impl_->archive, static_cast<zip_uint64_t>(index), 0, &st) != 0 ||
      !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) {
    throw IOError(at + " cannot be read: " + zip_strerror(impl_->archive));
  }
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
    throw IOError(at + " is encrypted");
  }
  // Caps before allocating: what the entry claims must fit what the archive holds.
  const bool stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
  if (st.comp_size > bytes_->size() ||
      (stored ? st.size != st.comp_size : st.size > st.comp_size * kMaxDeflateRatio + 1024)) {
    throw IOError(at + " claims " + std::to_string(st.size) + " bytes (" +
                  std::to_string(st.comp_size) + " compressed) in an archive of " +
                  std::to_string(bytes_->size()) + "; it is damaged");
  }
  if (st.size > max_bytes) {
    throw IOError(at + " is " + std::to_string(st.size) + " bytes, more than the " +
                  std::to_string(max_bytes) + " it may hold");
  }
  zip_file_t* file = zip_fopen_index(impl_->archive, static_cast<zip_uint64_t>(index), 0);
  if (!file) throw IOError(at + " cannot be opened: " + zip_strerror(impl_->archive));
  struct Close {
    zip_file_t* f;
    ~Close() { zip_fclose(f); }
  } close{file};
  std::vector<char> out(static_cast<size_t>(st.size));
  zip_uint64_t done = 0;
  while (done < st.size) {
    const zip_int64_t got = zip_fread(file, out.data() + done, st.size - done);
    if (got < 0) {
      throw IOError(at + " is damaged: " + std::string(zip_file_strerror(file)));
    }
    if (got == 0) break;
    done += static_cast<zip_uint64_t>(got);
  }
  char extra;  // one byte more than claimed means the directory lied
  if (done != st.size || zip_fread(file, &extra, 1) != 0) {
    throw IOError(at + " is damaged: it does not hold the " + std::to_string(st.size) +
                  " bytes its header claims");
  }
  return out;
}

}  // namespace ember::io
