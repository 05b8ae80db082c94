// A mutation fuzz loop over the model-file loader: damaged copies of the fixtures in
// cpp/tests/data (bits flipped, bytes set to edge values, runs inserted, deleted or copied,
// the file cut short) go through every reading entry point, and each must either load or
// throw an ember::Error. Anything else - another exception, a crash, a sanitizer report, a
// hang - is a bug: the input is written to the output folder first (a hang: by the watchdog)
// and the loop stops. Every other input is instead a fixture's config with values replaced
// by odd ones, keys removed or list entries repeated, built and (when it builds) run. The
// files in cpp/tests/data/regressions/ (inputs that once failed: whole files, *.bin, and
// configs, "<fixture>--*.json") are replayed first.
//
//   fuzz_load_model <fixture folder> [iterations] [seed (0: a fresh one)] [output folder]
//
// CTest runs a short loop under the sanitizers (build/asan); longer runs take a count.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ember/error.h"
#include "ember/load_model.h"
#include "ember/model.h"
#include "io/model_builder.h"
#include "io/model_file.h"
#include "io/zip_archive.h"

namespace io = ember::io;

namespace {

using Bytes = std::vector<char>;

// The input being loaded, for the watchdog (a signal handler may only write what it finds).
const Bytes* volatile current = nullptr;
char hang_path[4096];

void on_alarm(int) {
  const int fd = ::open(hang_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0 && current) {
    ssize_t ignored = ::write(fd, current->data(), current->size());
    (void)ignored;
    ::close(fd);
  }
  static const char msg[] = "fuzz_load_model: a load hung or crashed; its input was saved\n";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(3);
}

#if defined(__SANITIZE_ADDRESS__)
#define EMBER_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMBER_FUZZ_ASAN 1
#endif
#endif
#ifdef EMBER_FUZZ_ASAN
// libhdf5 sizes some of its metadata reads by what a damaged file claims (H5C_protect asks
// malloc for petabytes); a release build's malloc returns null and libhdf5 reports an error,
// which is what ASan must do too for the loop to see it. An allocation of ember's own that
// fails is a std::bad_alloc, which the loop reports as a bug.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
extern "C" void __sanitizer_set_death_callback(void (*callback)(void));
// A sanitizer report (a crash inside a library too) ends the process: save the input first.
void on_sanitizer_death() {
  std::snprintf(hang_path + std::strlen(hang_path) - std::strlen("hang.bin"), 9, "%s", "died.bin");
  on_alarm(0);
}
#endif

std::vector<std::string> list(const std::string& folder, const std::string& suffix) {
  std::vector<std::string> out;
  if (DIR* d = opendir(folder.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          n.find(".expected.") == std::string::npos) {
        out.push_back(folder + "/" + n);
      }
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Bytes mutate(const Bytes& in, std::mt19937_64& rng) {
  Bytes b = in;
  auto pick = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !b.empty(); ++e) {
    switch (rng() % 7) {
      case 0:  // flip a bit
        b[pick(b.size())] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1: {  // an edge value, often in a length or offset field
        static const unsigned char edge[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe};
        const size_t at = pick(b.size()), n = 1 + pick(8);
        for (size_t i = at; i < std::min(b.size(), at + n); ++i) b[i] = static_cast<char>(edge[rng() % 6]);
        break;
      }
      case 2:  // cut short
        b.resize(pick(b.size()));
        break;
      case 3: {  // insert random bytes
        const size_t at = pick(b.size() + 1), n = 1 + pick(64);
        Bytes run(n);
        for (char& c : run) c = static_cast<char>(rng());
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), run.begin(), run.end());
        break;
      }
      case 4: {  // delete a run
        const size_t at = pick(b.size()), n = std::min(b.size() - at, 1 + pick(256));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                b.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      case 5: {  // copy a run over another place (lengths and offsets land where others were)
        const size_t from = pick(b.size()), to = pick(b.size());
        const size_t n = std::min({b.size() - from, b.size() - to, 1 + pick(64)});
        std::memmove(b.data() + to, b.data() + from, n);
        break;
      }
      default: {  // a random 8-byte little-endian number
        const size_t at = pick(b.size());
        std::uint64_t v = rng() >> (rng() % 64);
        for (size_t i = at; i < std::min(b.size(), at + 8); ++i, v >>= 8) b[i] = static_cast<char>(v);
        break;
      }
    }
  }
  return b;
}

struct Outcome {
  bool bug = false;
  std::string what;
  std::string errors;  // the ember::Errors' messages
};

// Every entry point on one input; a bug is anything but success or an ember::Error.
Outcome run_all(const Bytes& bytes) {
  const std::vector<std::function<void(const std::shared_ptr<const Bytes>&)>> entry_points = {
      [](const auto& b) { io::read_model_file(b, "fuzz"); },
      [](const auto& b) { io::read_weights_file(b, "fuzz"); },
      [](const auto& b) { ember::load_model_from_memory(b->data(), b->size(), "fuzz"); },
  };
  auto shared = std::make_shared<const Bytes>(bytes);
  Outcome outcome;
  for (const auto& entry : entry_points) {
    try {
      entry(shared);
    } catch (const ember::Error& e) {
      outcome.errors += std::string(e.what()) + "\n";
    } catch (const std::exception& e) {
      return {true, std::string("a non-ember exception: ") + e.what(), outcome.errors};
    } catch (...) {
      return {true, "a non-std exception", outcome.errors};
    }
  }
  return outcome;
}

// Structured mutations of a model config: a value replaced by an odd one, a key removed, a
// list entry duplicated or dropped. Paths are picked uniformly among the config's values.
const nlohmann::json kOddValues = nlohmann::json::parse(R"([-1, 0, 9223372036854775807,
  -9223372036854775808, 18446744073709551615, 1e308, -1e308, "x", "7", null, [], {}, [[[[1]]]],
  true, 42, 200000000, 3, 1, "relu", "float16", "int32", {"class_name": 42},
  ["dense", 0, 0], ["dense", 5, 0], ["x", 0, 9], [null, 4], [null, 0], [null, 100000000]])");

void all_values(nlohmann::json& j, std::vector<nlohmann::json*>& out, int depth) {
  out.push_back(&j);
  if (depth > 40) return;
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) all_values(v, out, depth + 1);
  } else if (j.is_array()) {
    for (auto& v : j) all_values(v, out, depth + 1);
  }
}

void mutate_config(nlohmann::json& config, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    std::vector<nlohmann::json*> values;
    all_values(config, values, 0);
    nlohmann::json& target = *values[rng() % values.size()];
    switch (rng() % 4) {
      case 0:
      case 1:
        target = kOddValues[rng() % kOddValues.size()];
        break;
      case 2:
        if (target.is_object() && !target.empty()) {
          auto it = target.begin();
          std::advance(it, static_cast<std::ptrdiff_t>(rng() % target.size()));
          target.erase(it.key());
        } else if (target.is_array() && !target.empty()) {
          target.erase(target.begin() + static_cast<std::ptrdiff_t>(rng() % target.size()));
        }
        break;
      default:
        if (target.is_array() && !target.empty()) {
          target.push_back(target[rng() % target.size()]);
        }
    }
  }
}

// Builds a mutated config and, when it builds, predicts two rows of small values.
Outcome run_config(const io::ModelFile& file) {
  Outcome outcome;
  try {
    const auto model = io::build_loaded_model(file);
    std::vector<std::vector<float>> xs;
    std::vector<const float*> ptrs;
    int64_t elements = 0;
    for (size_t i = 0; i < model.num_inputs(); ++i) elements += ember::num_elements(model.input_shape(i));
    for (size_t i = 0; i < model.num_outputs(); ++i) elements += ember::num_elements(model.output_shape(i));
    if (elements < (1 << 20)) {  // the loader allows far more; the loop's memory does not
      for (size_t i = 0; i < model.num_inputs(); ++i) {
        xs.emplace_back(static_cast<size_t>(2 * ember::num_elements(model.input_shape(i))), 0.5f);
        ptrs.push_back(xs.back().data());
      }
      model.predict(ptrs, 2);
    }
  } catch (const ember::Error& e) {
    outcome.errors = e.what();
  } catch (const std::exception& e) {
    return {true, std::string("a non-ember exception: ") + e.what(), ""};
  } catch (...) {
    return {true, "a non-std exception", ""};
  }
  return outcome;
}

bool save(const std::string& path, const Bytes& b) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <fixture folder> [iterations] [seed] [output folder]\n", argv[0]);
    return 2;
  }
  const std::string data = argv[1];
  const long iterations = argc > 2 ? std::atol(argv[2]) : 300;
  // Seed 0 (or none): a fresh one, printed so that a failing run can be repeated.
  std::uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  if (seed == 0) seed = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  const std::string out = argc > 4 ? argv[4] : ".";
  std::snprintf(hang_path, sizeof hang_path, "%s/fuzz_hang.bin", out.c_str());
  signal(SIGALRM, on_alarm);
  // An abort (a failed assertion, in a header library too) saves the input as well.
  signal(SIGABRT, [](int) {
    std::snprintf(hang_path + std::strlen(hang_path) - std::strlen("hang.bin"), 9, "%s", "died.bin");
    on_alarm(0);
  });
#ifdef EMBER_FUZZ_ASAN
  __sanitizer_set_death_callback(on_sanitizer_death);
#endif

  // Regressions first: each must load or throw an ember::Error.
  int failures = 0;
  for (const auto& path : list(data + "/regressions", ".bin")) {
    const auto bytes = io::read_file_bytes(path);
    current = bytes.get();
    alarm(20);
    const Outcome o = run_all(*bytes);
    alarm(0);
    current = nullptr;
    std::printf("%s regression %s%s%s\n", o.bug ? "FAIL" : "ok  ", path.c_str(),
                o.bug ? ": " : "", o.what.c_str());
    failures += o.bug;
  }

  for (const auto& path : list(data + "/regressions", ".json")) {
    const std::string name = path.substr(path.rfind('/') + 1);
    const std::string fixture = data + "/" + name.substr(0, name.find("--"));
    io::ModelFile file = io::read_model_file(io::read_file_bytes(fixture), fixture);
    const auto text = io::read_file_bytes(path);
    file.model_config = io::parse_json({text->begin(), text->end()}, path);
    current = text.get();
    alarm(20);
    const Outcome o = run_config(file);
    alarm(0);
    current = nullptr;
    std::printf("%s regression %s%s%s\n", o.bug ? "FAIL" : "ok  ", path.c_str(), o.bug ? ": " : "",
                o.what.c_str());
    failures += o.bug;
  }

  // The corpus: the fixtures, and each .keras file's model.weights.h5 on its own (so that
  // mutations reach the HDF5 reader past the zip's checksums).
  std::vector<Bytes> corpus;
  for (const auto& suffix : {".keras", ".h5"}) {
    for (const auto& path : list(data, suffix)) {
      const auto bytes = io::read_file_bytes(path);
      corpus.push_back(*bytes);
      if (std::string(suffix) == ".keras") {
        corpus.push_back(io::ZipArchive(bytes, path).read("model.weights.h5", 1 << 30));
      }
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "no fixtures in %s\n", data.c_str());
    return 2;
  }
  std::printf("fuzz: %zu corpus files, %ld iterations, seed %llu\n", corpus.size(), iterations,
              static_cast<unsigned long long>(seed));
  std::vector<io::ModelFile> configs;
  for (const auto& suffix : {".keras", ".h5"}) {
    for (const auto& path : list(data, suffix)) {
      if (path.find(".weights.") == std::string::npos) {
        configs.push_back(io::read_model_file(io::read_file_bytes(path), path));
      }
    }
  }
  std::mt19937_64 rng(seed);
  const auto start = std::chrono::steady_clock::now();
  long bugs = 0;
  for (long i = 0; i < iterations; ++i) {
    // Every other input: a structured mutation of a config (its text is what is saved).
    const bool structured = i % 2 == 1;
    io::ModelFile file;
    Bytes input;
    if (structured) {
      file = configs[rng() % configs.size()];
      mutate_config(file.model_config, rng);
      const std::string text = file.model_config.dump();
      input.assign(text.begin(), text.end());
    } else {
      input = mutate(corpus[rng() % corpus.size()], rng);
    }
    current = &input;
    alarm(20);
    const Outcome o = structured ? run_config(file) : run_all(input);
    alarm(0);
    current = nullptr;
    // EMBER_FUZZ_KEEP=<text>: also keep the inputs refused with a message holding <text>
    // (how a crasher, once fixed, is found again for cpp/tests/data/regressions/).
    static const char* keep = std::getenv("EMBER_FUZZ_KEEP");
    if (keep && *keep && o.errors.find(keep) != std::string::npos) {
      save(out + "/fuzz_kept_" + std::to_string(i) + ".bin", input);
    }
    if (o.bug) {
      // A config is saved as "<fixture>--fuzz_bug_...json": its replay takes that fixture's
      // weights.
      const std::string fixture =
          structured ? file.source.substr(file.source.rfind('/') + 1) + "--" : "";
      const std::string path = out + "/" + fixture + "fuzz_bug_" + std::to_string(seed) + "_" +
                               std::to_string(i) + (structured ? ".json" : ".bin");
      save(path, input);
      std::printf("FAIL iteration %ld: %s (input saved to %s)\n", i, o.what.c_str(), path.c_str());
      ++bugs;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fuzz: %ld iterations in %.1f s (%.0f inputs/s, every entry point each), %ld bugs\n",
              iterations, seconds, static_cast<double>(iterations) / std::max(seconds, 1e-9), bugs);
  return failures || bugs ? 1 : 0;
}
