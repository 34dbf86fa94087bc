// A track's answer may not depend on what else the engine is running: 500
// demo-catalog tracks (ill-conditioned ones included) through `nio batch
// --local` with batches of 1 (8 for 8-start L-BFGS), 7, 64 and 1024 slots
// and 1 or 2 threads, for Adam and for the L-BFGS, through
// a real nio-server as one stream and one track at a time, and a few through
// unary Optimize (the interactive lane): every result bit-identical.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
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

constexpr int kTracks = 500;

// One optimizer configuration and the slot counts it runs in (a track's
// starts take that many slots, so the smallest batch holds one track).
struct InvarianceCase {
  const char* name;
  const char* optimizer;
  const char* starts;
  const char* steps;
  std::vector<std::string> small_batches;  // three slot counts
};

// The demo catalog's feature columns (the rest are names and labels).
const std::set<std::string> kFeatures = {
    "duration_ms",  "explicit",         "danceability", "energy",
    "key",          "loudness",         "mode",         "speechiness",
    "acousticness", "instrumentalness", "liveness",     "valence",
    "tempo",        "time_signature"};

// The demo catalog has no quoted cells; its lines end in CRLF, as pandas
// writes them on Windows.
std::vector<std::string> Split(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  return cells;
}

std::string BundledModel() {
  return std::string(NIO_SOURCE_DIR) + "/models/bundled";
}

RunResult RunNio(std::vector<std::string> args,
                 std::chrono::seconds timeout = 300s) {
  args.insert(args.begin(), NIO_CLI_BINARY);
  return nio::testing::RunProgram(args, timeout);
}

// The results of a batch output, by track id, the input line dropped.
std::map<std::string, nlohmann::json> ReadResults(const std::string& path) {
  std::map<std::string, nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    j.erase("line");
    out[j["id"]] = j;
  }
  return out;
}

class BatchInvarianceTest : public ::testing::TestWithParam<InvarianceCase> {
 protected:
  void SetUp() override {
    dir_ = nio::testing::FreshScratchDir("nio_batch_invariance");
    catalog_ = (dir_ / "catalog.csv").string();
    std::ifstream in(std::string(NIO_SOURCE_DIR) +
                     "/client/demo/demo_catalog.csv");
    std::ofstream out(catalog_);
    std::string line;
    for (int i = 0; i <= kTracks && std::getline(in, line); ++i)
      out << line << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the catalog with extra flags; returns the results by id.
  std::map<std::string, nlohmann::json> Batch(const std::string& name,
                                              std::vector<std::string> flags) {
    const std::string path = (dir_ / (name + ".jsonl")).string();
    std::vector<std::string> args = {"batch",
                                     "--input",
                                     catalog_,
                                     "--output",
                                     path,
                                     "--steps",
                                     GetParam().steps,
                                     "--progress",
                                     "none",
                                     "--optimizer",
                                     GetParam().optimizer,
                                     "--starts",
                                     GetParam().starts};
    args.insert(args.end(), flags.begin(), flags.end());
    const RunResult r = RunNio(args);
    EXPECT_EQ(r.code, 0) << name << ": " << r.output;
    return ReadResults(path);
  }

  fs::path dir_;
  std::string catalog_;
};

TEST_P(BatchInvarianceTest, EveryResultIsBitIdenticalWhateverTheBatch) {
  const InvarianceCase& c = GetParam();
  std::vector<std::pair<std::string, std::map<std::string, nlohmann::json>>>
      runs;
  auto local = [&](const std::string& max_batch, const std::string& threads) {
    runs.emplace_back(
        "--local --max_batch " + max_batch + " --threads " + threads,
        Batch("local-" + max_batch + "-" + threads,
              {"--local", "--backend", "cpu", "--model_dir", BundledModel(),
               "--max_batch", max_batch, "--threads", threads}));
  };
  local("1024", "2");
  local(c.small_batches[0], "1");
  local(c.small_batches[1], "2");
  local(c.small_batches[2], "1");
  local("1024", "1");

  ChildProcess server({NIO_SERVER_BINARY, "--model_dir", BundledModel(),
                       "--listen", "127.0.0.1:0", "--http_listen",
                       "127.0.0.1:0", "--backend", "cpu", "--max_batch",
                       "1024"});
  ASSERT_TRUE(server.WaitForOutput("listening on", 60s)) << server.output();
  std::smatch m;
  const std::string log = server.output();
  ASSERT_TRUE(
      std::regex_search(log, m, std::regex("listening on ([0-9.]+:[0-9]+)")));
  const std::string address = m[1];
  runs.emplace_back("server, one stream",
                    Batch("server", {"--server", address}));
  runs.emplace_back(
      "server, one track at a time",
      Batch("server-alone", {"--server", address, "--window", "1"}));

  const auto& reference = runs.front().second;
  ASSERT_EQ(reference.size(), static_cast<size_t>(kTracks));
  for (const auto& [name, results] : runs) {
    ASSERT_EQ(results.size(), reference.size()) << name;
    int differ = 0;
    for (const auto& [id, result] : results) {
      ASSERT_TRUE(reference.count(id)) << name << ": " << id;
      if (result != reference.at(id)) {
        if (++differ <= 3) {
          ADD_FAILURE() << name << " vs " << runs.front().first << ", " << id
                        << ":\n  " << result.dump() << "\n  "
                        << reference.at(id).dump();
        }
      }
    }
    EXPECT_EQ(differ, 0) << name;
  }

  // Unary Optimize runs in the interactive block: the same bits as in the
  // catalog batch. Five tracks as a JSON file of raw features.
  nlohmann::json tracks = nlohmann::json::array();
  std::ifstream in(catalog_);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = Split(line);
  for (int i = 0; i < 5 && std::getline(in, line); ++i) {
    const std::vector<std::string> cells = Split(line);
    nlohmann::json track = {{"features", nlohmann::json::object()}};
    for (size_t c = 0; c < header.size() && c < cells.size(); ++c) {
      if (header[c] == "track_id") {
        track["id"] = cells[c];
      } else if (header[c] == "track_genre") {
        track["genre"] = cells[c];
      } else if (kFeatures.count(header[c])) {
        track["features"][header[c]] = cells[c] == "True" ? 1.0
                                       : cells[c] == "False"
                                           ? 0.0
                                           : std::stod(cells[c]);
      }
    }
    tracks.push_back(track);
  }
  const std::string five = (dir_ / "five.json").string();
  std::ofstream(five) << nlohmann::json{{"tracks", tracks}}.dump();
  const RunResult unary = RunNio(
      {"optimize", "--server", address, "--input", five, "--format", "json",
       "--steps", c.steps, "--optimizer", c.optimizer, "--starts", c.starts});
  ASSERT_EQ(unary.code, 0) << unary.output;
  const auto answers = nlohmann::json::parse(unary.output);
  ASSERT_EQ(answers.size(), 5u) << unary.output;
  for (const auto& answer : answers) {
    const auto& batch = reference.at(answer["id"].get<std::string>());
    EXPECT_EQ(answer["prediction_after"], batch["prediction_after"]) << answer;
    EXPECT_EQ(answer["changes"], batch["changes"]) << answer;
  }
}

// Adam one start a track (1 slot: the single-row split mode) and the
// L-BFGS with 8 starts (8 slots: one track at a time).
INSTANTIATE_TEST_SUITE_P(
    Optimizers, BatchInvarianceTest,
    ::testing::Values(
        InvarianceCase{"Adam", "adam", "1", "100", {"1", "7", "64"}},
        InvarianceCase{"Lbfgs", "lbfgs", "8", "12", {"8", "15", "64"}}),
    [](const ::testing::TestParamInfo<InvarianceCase>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace nio
