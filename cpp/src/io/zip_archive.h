// Reading entries of a zip archive held in memory (a `.keras` file), through libzip,
// with every size the archive claims checked before anything is allocated for it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember::io {

class ZipArchive {
 public:
  // Opens `bytes` (kept alive by the archive); `source` names the file in messages.
  // Throws IOError when it is not a readable zip archive.
  ZipArchive(std::shared_ptr<const std::vector<char>> bytes, std::string source);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  // The entry's bytes, at most max_bytes of them (IOError beyond, or when damaged).
  std::vector<char> read(const std::string& name, std::uint64_t max_bytes) const;

 private:
  std::shared_ptr<const std::vector<char>> bytes_;
  std::string source_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether `bytes` begins like a zip archive ("PK\3\4", or an empty one's "PK\5\6").
bool looks_like_zip(const std::vector<char>& bytes);

}  // namespace ember::io
