// SPDX-License-Identifier: GPL-2.0-or-later
//
// Driver for fuzz targets in builds without libFuzzer (g++): runs LLVMFuzzerTestOneInput once
// per file named on the command line (directories are walked), so the corpus and every crash
// that was ever found run as regression tests in `meson test`.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int run_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 0;
  for (int i = 1; i < argc; i++) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(p)) {
        if (!entry.is_regular_file())
          continue;
        if (run_file(entry.path()) != 0)
          return 1;
        runs++;
      }
    } else {
      if (run_file(p) != 0)
        return 1;
      runs++;
    }
  }
  // An empty input is always worth one run.
  LLVMFuzzerTestOneInput(nullptr, 0);
  printf("ran %d inputs\n", runs + 1);
  return 0;
}
