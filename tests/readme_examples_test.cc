// The command examples of README.md and client/README.md, run as written
// (docs that drift from the code fail here). An example is an indented
// line that starts with `build/` or `nio `; a trailing `# comment` is
// dropped and bare `nio` is the built CLI. A `curl ` example (with its
// more-indented continuation lines) runs in sh against the server's HTTP
// port in place of localhost:8080, and must get no HTTP error. An example with
// `[optional parts]` runs without them, then once with each part (its first
// alternative; `I/N` as 0/2), resuming on the output the first run left or
// on a fresh one. A real
// nio-server on a free loopback port stands in for "nio-server &" (the CLI
// finds it through $NIO_SERVER); catalog.csv is the demo catalog's first 60
// tracks and tracks.json the client README's example file. The set-up
// scripts (deploy/) are what CI itself runs, so they are not run here.
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace nio {
namespace {

namespace fs = std::filesystem;
using nio::testing::ChildProcess;
using namespace std::chrono_literals;

struct Example {
  std::string file;
  int line;
  std::string command;
};

std::vector<Example> Examples(const std::string& file) {
  std::vector<Example> out;
  std::ifstream in(std::string(NIO_SOURCE_DIR) + "/" + file);
  std::string line;
  int n = 0;
  bool in_curl = false;  // the line before was a curl example's
  while (std::getline(in, line)) {
    ++n;
    if (in_curl && line.rfind("      ", 0) == 0) {
      out.back().command += " " + line.substr(6);
      continue;
    }
    in_curl = false;
    if (line.rfind("    ", 0) != 0) continue;
    std::string command = line.substr(4);
    if (command.rfind("curl ", 0) == 0) {
      out.push_back({file, n, command});
      in_curl = true;
      continue;
    }
    if (command.rfind("build/", 0) != 0 && command.rfind("nio ", 0) != 0) {
      continue;
    }
    command = std::regex_replace(command, std::regex("\\s+#.*$"), "");
    out.push_back(
        {file, n,
         std::regex_replace(command, std::regex("\\s*\\[[^\\]]*\\]"), "")});
    // Each optional group on its own, its first alternative.
    const std::regex group("\\[([^\\]]*)\\]");
    for (auto it = std::sregex_iterator(command.begin(), command.end(), group);
         it != std::sregex_iterator(); ++it) {
      std::string first = (*it)[1];
      first = std::regex_replace(first, std::regex("\\s*\\|.*$"), "");
      first = std::regex_replace(first, std::regex("I/N"), "0/2");
      std::string variant = command.substr(0, it->position()) + first +
                            command.substr(it->position() + it->length());
      variant =
          std::regex_replace(variant, std::regex("\\s*\\[[^\\]]*\\]"), "");
      out.push_back({file, n, variant});
    }
  }
  return out;
}

std::vector<std::string> Words(const std::string& command) {
  std::vector<std::string> words;
  std::istringstream in(command);
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

TEST(ReadmeExamplesTest, EveryCommandExampleRunsAsWritten) {
  const fs::path dir = nio::testing::FreshScratchDir("nio_readme_examples");
  fs::create_directory_symlink(NIO_BUILD_DIR, dir / "build");
  {
    std::ifstream in(std::string(NIO_SOURCE_DIR) +
                     "/client/demo/demo_catalog.csv");
    std::ofstream out(dir / "catalog.csv");
    std::string line;
    for (int i = 0; i <= 60 && std::getline(in, line); ++i) out << line << "\n";
    // The client README's JSON example.
    std::ifstream readme(std::string(NIO_SOURCE_DIR) + "/client/README.md");
    std::stringstream text;
    text << readme.rdbuf();
    std::smatch m;
    const std::string s = text.str();
    ASSERT_TRUE(std::regex_search(
        s, m, std::regex("\n    (\\{\"tracks\":(.|\n)*?\\}\\]\\})\n")));
    std::ofstream(dir / "tracks.json")
        << std::regex_replace(std::string(m[1]), std::regex("\n    "), "\n");
  }
  ChildProcess server({NIO_SERVER_BINARY, "--listen", "127.0.0.1:0",
                       "--http_listen", "127.0.0.1:0", "--backend", "cpu"});
  ASSERT_TRUE(server.WaitForOutput("listening on", 60s)) << server.output();
  std::smatch m;
  const std::string log = server.output();
  ASSERT_TRUE(
      std::regex_search(log, m, std::regex("listening on ([0-9.]+:[0-9]+)")));
  setenv("NIO_SERVER", std::string(m[1]).c_str(), 1);
  std::smatch http;
  ASSERT_TRUE(
      std::regex_search(log, http, std::regex("http://([0-9.]+:[0-9]+)")));
  const std::string http_address = http[1];

  std::vector<Example> examples = Examples("README.md");
  for (const Example& e : Examples("client/README.md")) examples.push_back(e);
  ASSERT_GE(examples.size(), 8u);
  const fs::path before = fs::current_path();
  fs::current_path(dir);
  int curl_examples = 0;
  for (const Example& e : examples) {
    if (e.command.rfind("curl ", 0) == 0) {
      const std::string command = std::regex_replace(
          std::regex_replace(e.command, std::regex("localhost:8080"),
                             http_address),
          std::regex("^curl "), "curl --fail ");
      ChildProcess p({"/bin/sh", "-c", command});
      EXPECT_EQ(p.Wait(120s), 0)
          << e.file << ":" << e.line << ": " << command << "\n"
          << p.output();
      ++curl_examples;
      continue;
    }
    std::vector<std::string> argv = Words(e.command);
    if (argv.back() == "&") continue;  // the server: the one started above
    if (argv[0] == "nio") argv[0] = NIO_CLI_BINARY;
    // An output file an earlier example wrote: each example as on a fresh
    // checkout, unless it resumes.
    const bool resumes =
        std::find(argv.begin(), argv.end(), "--resume") != argv.end();
    for (size_t i = 0; i + 1 < argv.size() && !resumes; ++i) {
      if (argv[i] == "--output" && fs::exists(argv[i + 1])) {
        fs::remove(argv[i + 1]);
        fs::remove(argv[i + 1] + ".manifest.json");
      }
    }
    ChildProcess p(argv);
    const int code = p.Wait(120s);
    EXPECT_EQ(code, 0) << e.file << ":" << e.line << ": " << e.command << "\n"
                       << p.output();
  }
  EXPECT_GE(curl_examples, 4) << "the README's HTTP examples";
  fs::current_path(before);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nio
