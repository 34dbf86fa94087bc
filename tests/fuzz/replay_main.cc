// A main for a fuzz target without libFuzzer (the gcc build): runs every
// file named, and every file of every directory named (sorted; dot files
// such as .gitkeep skipped), through LLVMFuzzerTestOneInput once, as
// libFuzzer runs a crash file given on its command line. A crash or a
// failed check aborts; so the ctest of each target replays its seed corpus
// and the inputs of every crash found so far (tests/fuzz/regressions/).
//   track_json_fuzzer tests/fuzz/corpus/track_json FILE...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool Run(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open\n", file.c_str());
    return false;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string input = bytes.str();
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  int runs = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code error;
    std::vector<fs::path> files;
    if (fs::is_directory(arg, error)) {
      for (const auto& entry : fs::directory_iterator(arg, error)) {
        if (entry.is_regular_file() &&
            entry.path().filename().string().front() != '.')
          files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(arg);
    }
    for (const fs::path& f : files) {
      if (!Run(f)) return 1;
      ++runs;
    }
  }
  std::printf("%s: %d inputs ran without a crash\n", argv[0], runs);
  return 0;
}
