// `nio batch` never loses, mixes or invents data (issue: batch jobs that
// never lose, mix or invent data): columns are checked, the output records
// the options that made it and --resume refuses others, failed rows are
// retried, the input and an existing output are safe, a server that dies
// mid-job leaves a summary and the resume command, and a second server
// cannot take a port in use. Real nio-server and nio binaries, the bundled
// model, the demo catalog.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace nio {
namespace {

namespace fs = std::filesystem;
using nio::testing::ChildProcess;
using nio::testing::RunResult;
using namespace std::chrono_literals;

RunResult RunNio(std::vector<std::string> args,
                 std::chrono::seconds timeout = 300s) {
  args.insert(args.begin(), NIO_CLI_BINARY);
  return nio::testing::RunProgram(args, timeout);
}

size_t CountLines(const std::string& path) {
  std::ifstream f(path);
  return std::count(std::istreambuf_iterator<char>(f), {}, '\n');
}

// A started nio-server on a free loopback port.
struct Server {
  explicit Server(std::vector<std::string> flags) {
    std::vector<std::string> argv = {
        NIO_SERVER_BINARY, "--listen",  "127.0.0.1:0", "--http_listen",
        "127.0.0.1:0",     "--backend", "cpu"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process = std::make_unique<ChildProcess>(argv);
    if (!process->WaitForOutput("listening on", 60s)) return;
    std::smatch m;
    const std::string log = process->output();
    if (std::regex_search(log, m,
                          std::regex("listening on ([0-9.]+:([0-9]+))"))) {
      address = m[1];
      port = m[2];
    }
  }
  std::unique_ptr<ChildProcess> process;
  std::string address, port;
};

class BatchSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = nio::testing::FreshScratchDir("nio_batch_safety");
    // The demo catalog's first 60 tracks.
    catalog_ = Path("catalog.csv");
    std::ifstream in(std::string(NIO_SOURCE_DIR) +
                     "/client/demo/demo_catalog.csv");
    std::ofstream out(catalog_);
    std::string line;
    for (int i = 0; i <= 60 && std::getline(in, line); ++i) out << line << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }

  // The catalog with its header line rewritten.
  std::string WithHeader(
      const std::string& name,
      const std::function<std::string(std::string)>& edit,
      const std::function<std::string(std::string)>& row = [](std::string s) {
        return s;
      }) {
    std::ifstream in(catalog_);
    std::ofstream out(Path(name));
    std::string line;
    std::getline(in, line);
    out << edit(line) << "\n";
    while (std::getline(in, line)) out << row(line) << "\n";
    return Path(name);
  }

  std::vector<std::string> Local(const std::string& input,
                                 const std::string& output,
                                 std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "batch",    "--local", "--backend", "cpu", "--input",    input,
        "--output", output,    "--steps",   "20",  "--progress", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  fs::path dir_;
  std::string catalog_;
};

TEST_F(BatchSafetyTest, MisspeltOrMissingColumnsAreErrorsNamingThem) {
  const std::string typo = WithHeader("typo.csv", [](std::string h) {
    return std::regex_replace(h, std::regex("danceability"), "danceabilty");
  });
  auto r = RunNio(Local(typo, Path("typo.jsonl")));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown column 'danceabilty' (did you mean "
                          "'danceability'?)"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(Path("typo.jsonl")));

  // energy dropped: the column and every row's cell.
  auto drop_energy = [](std::string line) {
    std::vector<std::string> cells;
    std::stringstream in(line);
    std::string cell;
    while (std::getline(in, cell, ',')) cells.push_back(cell);
    cells.erase(cells.begin() + 9);  // energy
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + cells[i];
    return out;
  };
  const std::string dropped =
      WithHeader("no-energy.csv", drop_energy, drop_energy);
  ASSERT_EQ(std::ifstream(dropped).peek() != EOF, true);
  r = RunNio(Local(dropped, Path("no-energy.jsonl")));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("missing feature column energy"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--fill-missing mean"), std::string::npos);

  // Asked for: the model's default, recorded in the manifest.
  r = RunNio(Local(dropped, Path("filled.jsonl"), {"--fill-missing", "mean"}));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(CountLines(Path("filled.jsonl")), 60u);
  const auto manifest =
      nlohmann::json::parse(std::ifstream(Path("filled.jsonl.manifest.json")));
  EXPECT_EQ(manifest["fill_missing"], "mean");

  // An empty cell is a bad row unless --fill-missing mean.
  int row = 0;
  const std::string holes = WithHeader(
      "holes.csv", [](std::string h) { return h; },
      [&row](std::string line) {
        if (++row == 3)
          line = std::regex_replace(line, std::regex(",0\\.[0-9]+,"), ",,",
                                    std::regex_constants::format_first_only);
        return line;
      });
  r = RunNio(Local(holes, Path("holes.jsonl")));
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_NE(r.output.find("line 4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(": empty (pass --fill-missing mean"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(CountLines(Path("holes.jsonl")), 59u);
}

TEST_F(BatchSafetyTest, ResumeRefusesOtherOptionsNamingThem) {
  const std::string out = Path("results.csv");
  auto r = RunNio(Local(catalog_, out));
  ASSERT_EQ(r.code, 0) << r.output;
  const size_t lines = CountLines(out);
  // The shape of the rows (the features that move) and the steps.
  r = RunNio(Local(catalog_, out, {"--resume", "--mutable", "energy,tempo"}));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("--resume: --mutable differs"), std::string::npos)
      << r.output;
  std::vector<std::string> other_steps = Local(catalog_, out, {"--resume"});
  other_steps[std::find(other_steps.begin(), other_steps.end(), "20") -
              other_steps.begin()] = "5";
  r = RunNio(other_steps);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("--resume: --steps differs"), std::string::npos)
      << r.output;
  r = RunNio(Local(catalog_, out, {"--resume", "--shard", "0/2"}));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("--resume: --shard differs"), std::string::npos)
      << r.output;
  r = RunNio(Local(catalog_, out, {"--resume", "--overwrite"}));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("pick one"), std::string::npos) << r.output;
  EXPECT_EQ(CountLines(out), lines) << "a refused resume wrote rows";
  // What takes effect is compared, not the spelling: the default mode and
  // the default features listed in another order continue the job.
  r = RunNio(Local(catalog_, out,
                   {"--resume", "--mode", "projected", "--mutable",
                    "tempo,valence,liveness,instrumentalness,acousticness,"
                    "speechiness,loudness,energy,danceability"}));
  EXPECT_EQ(r.code, 0) << r.output;
  // The same options: nothing to do, nothing written twice.
  r = RunNio(Local(catalog_, out, {"--resume"}));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("60 already done"), std::string::npos) << r.output;
  EXPECT_EQ(CountLines(out), lines);
  // An output without a manifest cannot be checked.
  fs::remove(out + ".manifest.json");
  r = RunNio(Local(catalog_, out, {"--resume"}));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("has no"), std::string::npos) << r.output;
}

TEST_F(BatchSafetyTest, TheInputAndAnExistingOutputAreSafe) {
  const std::string before = nio::testing::ReadFile(catalog_);
  auto r = RunNio(Local(catalog_, catalog_, {"--overwrite"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("is the --input file"), std::string::npos)
      << r.output;
  // Also through another spelling of the same path.
  r = RunNio(
      Local(catalog_, (dir_ / "." / "catalog.csv").string(), {"--overwrite"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(nio::testing::ReadFile(catalog_), before);

  const std::string out = Path("out.jsonl");
  std::ofstream(out) << "precious\n";
  r = RunNio(Local(catalog_, out));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("exists: pass --resume to continue it or "
                          "--overwrite to replace it"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(nio::testing::ReadFile(out), "precious\n");
  r = RunNio(Local(catalog_, out, {"--overwrite"}));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(CountLines(out), 60u);
}

TEST_F(BatchSafetyTest, FailedRowsAreRetriedByResume) {
  const std::string out = Path("retry.jsonl");
  {
    // A queue of 4 tracks: most of the 60 are refused (RESOURCE_EXHAUSTED).
    Server tight({"--max_batch", "4", "--max_queue", "4"});
    ASSERT_FALSE(tight.address.empty()) << tight.process->output();
    const auto r =
        RunNio({"batch", "--server", tight.address, "--input", catalog_,
                "--output", out, "--steps", "20", "--progress", "none"});
    EXPECT_EQ(r.code, 5) << r.output;
  }
  size_t failed = 0;
  {
    std::ifstream in(out);
    std::string line;
    while (std::getline(in, line))
      failed += nlohmann::json::parse(line)["status"] != "ok";
  }
  ASSERT_GT(failed, 0u);
  Server roomy({});
  ASSERT_FALSE(roomy.address.empty()) << roomy.process->output();
  const auto r = RunNio({"batch", "--server", roomy.address, "--input",
                         catalog_, "--output", out, "--steps", "20",
                         "--progress", "none", "--resume"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(failed) + " failed before, retried"),
            std::string::npos)
      << r.output;
  // One record per track, every one a result.
  std::map<std::string, int> seen;
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["status"], "ok") << line;
    ++seen[j["id"]];
  }
  EXPECT_EQ(seen.size(), 60u);
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
}

TEST_F(BatchSafetyTest, AServerDeathMidJobLeavesTheSummaryAndTheResumeCommand) {
  const std::string out = Path("cut.jsonl");
  auto server =
      std::make_unique<Server>(std::vector<std::string>{"--max_batch", "8"});
  ASSERT_FALSE(server->address.empty()) << server->process->output();
  // 3000 steps in a window of 8: results come a few at a time for seconds.
  std::vector<std::string> argv = {
      NIO_CLI_BINARY, "batch",    "--server",   server->address, "--input",
      catalog_,       "--output", out,          "--steps",       "3000",
      "--window",     "8",        "--progress", "none"};
  ChildProcess job(argv);
  // Killed once a first result is saved: on a slow build (ASan) the first
  // wave of 8 takes most of a minute.
  for (int i = 0; i < 24000 && CountLines(out) < 1; ++i)
    std::this_thread::sleep_for(5ms);
  const size_t saved = CountLines(out);
  ASSERT_GE(saved, 1u);
  server->process->Signal(SIGKILL);
  const int code = job.Wait(60s);
  const std::string log = job.output();
  EXPECT_EQ(code, 3) << log;
  EXPECT_NE(log.find("Batch summary"), std::string::npos) << log;
  EXPECT_NE(log.find("the job stopped early"), std::string::npos) << log;
  EXPECT_NE(log.find("results are saved in " + out), std::string::npos) << log;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("continue with:\n +(.*)\n")))
      << log;
  const std::string command = m[1];
  EXPECT_NE(command.find("--output " + out), std::string::npos) << command;
  EXPECT_EQ(command.substr(command.size() - 8), "--resume") << command;
  EXPECT_LT(CountLines(out), 60u) << "the job finished before the kill";
}

TEST_F(BatchSafetyTest, ASecondServerCannotTakeAPortInUse) {
  Server first({});
  ASSERT_FALSE(first.port.empty()) << first.process->output();
  ChildProcess second({NIO_SERVER_BINARY, "--listen", "127.0.0.1:" + first.port,
                       "--http_listen", "127.0.0.1:0", "--backend", "cpu"});
  EXPECT_EQ(second.Wait(60s), 3) << second.output();
  EXPECT_NE(second.output().find("address in use"), std::string::npos)
      << second.output();
}

}  // namespace
}  // namespace nio
