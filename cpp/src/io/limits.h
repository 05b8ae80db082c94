// The sizes a model file may claim before ember refuses it. Every length, count and
// shape read from a file is checked against these before anything is allocated for
// it, so that a damaged or hostile file costs at most a bounded amount of memory and
// time (issue 12: "never a crash, hang or huge allocation").
#pragma once
#include <cstddef>
#include <cstdint>

namespace ember::io {

// The file itself (read into memory whole: the zip and HDF5 readers work on images).
constexpr std::uint64_t kMaxFileBytes = std::uint64_t{1} << 36;  // 64 GiB
// config.json / metadata.json and the JSON string attributes of an .h5 file.
constexpr std::uint64_t kMaxJsonBytes = std::uint64_t{64} << 20;  // 64 MiB
// Deflate expands by at most 1032:1; anything claiming more is not a real archive.
constexpr std::uint64_t kMaxDeflateRatio = 1100;
// An HDF5 string list attribute (layer_names, weight_names).
constexpr std::uint64_t kMaxAttributeBytes = std::uint64_t{64} << 20;
// Groups below a weights file's root, and links in any one group.
constexpr int kMaxGroupDepth = 64;
constexpr std::size_t kMaxGroupLinks = 1u << 20;
// A weight: dimensions and values.
constexpr int kMaxArrayRank = 8;
// Nesting of the JSON structures ember walks (a layer call's args, nested models).
constexpr int kMaxJsonDepth = 64;
// Values in one row of any node of a loaded graph (what predict allocates per row).
constexpr std::int64_t kMaxRowElements = std::int64_t{1} << 28;

}  // namespace ember::io
