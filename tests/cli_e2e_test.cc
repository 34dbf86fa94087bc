// The `nio` CLI end to end against the real nio-server binary: info,
// optimize with each preset, a batch with bad rows, kill + --resume, shards,
// and --local equal to the server.
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace nio {
namespace {

namespace fs = std::filesystem;
using nio::testing::ChildProcess;
using namespace std::chrono_literals;

std::string TinyModel() { return nio::testing::TestDataDir() + "/tiny_model"; }

struct RunResult {
  int code;
  std::string output;
};

RunResult RunNio(std::vector<std::string> args,
                 std::chrono::seconds timeout = 120s) {
  args.insert(args.begin(), NIO_CLI_BINARY);
  ChildProcess p(args);
  const int code = p.Wait(timeout);
  return {code, p.output()};
}

std::map<std::string, nlohmann::json> ReadJsonl(const std::string& path) {
  std::map<std::string, nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(out.count(j["id"]), 0u) << "id twice: " << j["id"];
    out[j["id"]] = j;
  }
  return out;
}

class CliE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(nio::testing::FreshScratchDir("nio_cli_e2e"));
    // A catalog for the tiny model: 300 tracks and 4 bad rows.
    catalog_ = new std::string((*dir_ / "catalog.csv").string());
    std::ofstream out(*catalog_);
    out << ",track_id,artists,popularity,duration_ms,explicit,danceability,"
           "energy,loudness,mode,"
           "acousticness,valence,tempo,track_genre\n";
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(0, 1);
    const char* genres[] = {"acoustic", "chill", "edm", "pop", "sad"};
    int line = 1;
    for (int i = 0; i < 304; ++i) {
      ++line;
      if (i == 50) {
        out << i << ",bad-fields,x,1,2\n";
        bad_lines_->insert(line);
        continue;
      }
      if (i == 120) {
        out << i
            << ",bad-number,x,10,200000,False,lots,0.5,-8,1,0.2,0.5,120,pop\n";
        bad_lines_->insert(line);
        continue;
      }
      if (i == 200) {
        out << i
            << ",bad-genre,x,10,200000,False,0.5,0.5,-8,1,0.2,0.5,120,polka\n";
        bad_lines_->insert(line);
        continue;
      }
      if (i == 250) {
        out << i
            << ",t0007,x,10,200000,False,0.5,0.5,-8,1,0.2,0.5,120,pop\n";  // duplicate
                                                                           // id
        bad_lines_->insert(line);
        continue;
      }
      char id[16];
      std::snprintf(id, sizeof(id), "t%04d", i);
      out << i << "," << id << ",artist," << int(u(rng) * 100) << ","
          << int(100000 + u(rng) * 200000) << ","
          << (u(rng) < 0.1 ? "True" : "False") << "," << u(rng) << "," << u(rng)
          << "," << -20 + 18 * u(rng) << "," << (u(rng) < 0.5) << "," << u(rng)
          << "," << u(rng) << "," << 60 + 140 * u(rng) << "," << genres[i % 5]
          << "\n";
    }
    out.close();
    server_ = new ChildProcess({NIO_SERVER_BINARY, "--model_dir", TinyModel(),
                                "--listen", "127.0.0.1:0", "--backend", "cpu",
                                "--max_batch", "64"});
    ASSERT_TRUE(server_->WaitForOutput("listening on", 30s))
        << server_->output();
    std::smatch m;
    const std::string log = server_->output();
    ASSERT_TRUE(
        std::regex_search(log, m, std::regex("listening on ([0-9.]+:[0-9]+)")));
    address_ = new std::string(m[1]);
  }
  static void TearDownTestSuite() {
    delete server_;
    fs::remove_all(*dir_);
  }
  static std::string Out(const std::string& name) {
    return (*dir_ / name).string();
  }

  static fs::path* dir_;
  static std::string* catalog_;
  static std::set<int>* bad_lines_;
  static ChildProcess* server_;
  static std::string* address_;
};
fs::path* CliE2ETest::dir_ = nullptr;
std::string* CliE2ETest::catalog_ = nullptr;
std::set<int>* CliE2ETest::bad_lines_ = new std::set<int>();
ChildProcess* CliE2ETest::server_ = nullptr;
std::string* CliE2ETest::address_ = nullptr;

TEST_F(CliE2ETest, InfoListsModelFeaturesGenresAndPresets) {
  const auto r = RunNio({"info", "--server", *address_});
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* s : {"tiny-random", "danceability", "0.000..1.000",
                        "Genres (5)", "chill", "sad-ballad", "cpu"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
}

TEST_F(CliE2ETest, OptimizeEachPresetHumanAndJson) {
  for (const char* preset : {"custom", "chill", "edm", "sad-ballad"}) {
    const auto r = RunNio({"optimize", "--server", *address_, "--preset",
                           preset, "--steps", "50"});
    ASSERT_EQ(r.code, 0) << preset << "\n" << r.output;
    for (const char* s : {"Popularity before", "Popularity after",
                          "Suggestions:", "original", "optimized", "|"}) {
      EXPECT_NE(r.output.find(s), std::string::npos) << preset << ": " << s;
    }
    const auto j = RunNio({"optimize", "--server", *address_, "--preset",
                           preset, "--steps", "50", "--output", "json"});
    ASSERT_EQ(j.code, 0) << j.output;
    auto parsed = nlohmann::json::parse(j.output);
    EXPECT_EQ(parsed["steps_run"], 50);
    EXPECT_NEAR(parsed["delta"].get<double>(),
                parsed["prediction_after"].get<double>() -
                    parsed["prediction_before"].get<double>(),
                1e-9);
  }
  // Errors: unknown preset, unknown feature, no server.
  EXPECT_EQ(
      RunNio({"optimize", "--server", *address_, "--preset", "polka"}).code, 2);
  const auto bad = RunNio({"optimize", "--server", *address_, "--genre", "pop",
                           "--set", "speed=3"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("speed"), std::string::npos);
  EXPECT_EQ(RunNio({"info", "--server", "127.0.0.1:1"}, 60s).code, 3);
  EXPECT_EQ(RunNio({"optimize", "--bogus-flag"}).code, 1);
}

TEST_F(CliE2ETest, MixedBenchReportsCatalogRateAndOneTrackLatency) {
  const auto r =
      RunNio({"bench", "--server", *address_, "--mixed", "--concurrency", "2",
              "--tracks", "4", "--duration", "1", "--warmup", "0.2", "--steps",
              "20", "--interactive-rate", "10", "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["mode"], "mixed");
  for (const char* phase : {"one_track_idle", "one_track_mixed"}) {
    EXPECT_EQ(j[phase]["calls"], 10) << phase;
    EXPECT_EQ(j[phase]["errors"], 0) << phase;
    EXPECT_GT(j[phase]["p50_ms"].get<double>(), 0) << phase;
    EXPECT_GE(j[phase]["p99_ms"].get<double>(),
              j[phase]["p50_ms"].get<double>())
        << phase;
  }
  EXPECT_GT(j["catalog_alone_tracks_per_s"].get<double>(), 0);
  EXPECT_GT(j["catalog_mixed_tracks_per_s"].get<double>(), 0);
  EXPECT_EQ(j["stream_errors"], 0);
  // Its options do nothing without --mixed: refused.
  EXPECT_EQ(
      RunNio({"bench", "--server", *address_, "--interactive-rate", "3"}).code,
      1);
}

TEST_F(CliE2ETest, BatchReportsBadRowsAndDoesTheRest) {
  const auto r =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("all.jsonl"), "--steps", "40", "--progress", "plain"});
  EXPECT_EQ(r.code, 5) << r.output;  // done, with bad rows
  for (int line : *bad_lines_) {
    EXPECT_NE(r.output.find("line " + std::to_string(line)), std::string::npos)
        << line << "\n"
        << r.output;
  }
  const auto results = ReadJsonl(Out("all.jsonl"));
  // 300 good rows, one of them polka (answered with an error), one duplicate.
  EXPECT_EQ(results.size(), 301u);
  int ok = 0;
  for (const auto& [id, j] : results) ok += j["status"] == "ok";
  EXPECT_EQ(ok, 300);
  EXPECT_EQ(results.at("bad-genre")["status"], "error");
  EXPECT_NE(r.output.find("Batch summary: 300 tracks optimized, 1 failed"),
            std::string::npos)
      << r.output;
}

// Batch CSV rows by id (each id at most once).
std::map<std::string, std::vector<std::string>> ReadBatchCsv(
    const std::string& path) {
  std::map<std::string, std::vector<std::string>> rows;
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) cols.push_back(c);
    EXPECT_EQ(rows.count(cols[0]), 0u) << "id twice: " << cols[0];
    rows[cols[0]] = cols;
  }
  return rows;
}

// Every id of `expected` once in `got`, with the same values (numeric
// columns within 1e-3 relative).
void ExpectSameBatchResults(const std::string& expected,
                            const std::string& got) {
  const auto a = ReadBatchCsv(expected);
  const auto b = ReadBatchCsv(got);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [id, cols] : a) {
    ASSERT_TRUE(b.count(id)) << id;
    const auto& other = b.at(id);
    ASSERT_EQ(cols.size(), other.size()) << id;
    for (size_t c = 5; c < cols.size(); ++c) {
      if (cols[c].empty()) {
        EXPECT_TRUE(other[c].empty());
        continue;
      }
      const double x = std::stod(cols[c]), y = std::stod(other[c]);
      EXPECT_NEAR(x, y, 1e-3 * std::max(1.0, std::fabs(x)))
          << id << " column " << c;
    }
  }
}

size_t CountLines(const std::string& path) {
  std::ifstream f(path);
  return std::count(std::istreambuf_iterator<char>(f), {}, '\n');
}

TEST_F(CliE2ETest, KilledBatchResumesToTheSameResults) {
  // 20000 steps keep the job running for about a second with a window of 16
  // (19 rounds), while the first results come after one round: the kill
  // lands midway with a wide margin, however loaded the machine.
  const std::vector<std::string> job_args = {"batch",   "--server",   *address_,
                                             "--input", *catalog_,    "--steps",
                                             "20000",   "--progress", "none"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = job_args;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const auto full = RunNio(with({"--output", Out("uninterrupted.csv")}));
  ASSERT_EQ(full.code, 5) << full.output;
  // Start again into a new file, kill it once some results are written.
  const std::string out = Out("resumed.csv");
  {
    std::vector<std::string> argv = with({"--output", out, "--window", "16"});
    argv.insert(argv.begin(), NIO_CLI_BINARY);
    ChildProcess job(argv);
    for (int i = 0; i < 6000 && CountLines(out) < 2; ++i)
      std::this_thread::sleep_for(5ms);
    job.Signal(SIGKILL);
    job.Wait(30s);
  }
  const auto partial = CountLines(out);
  EXPECT_GT(partial, 1u);
  EXPECT_LT(partial, 302u) << "the job finished before it was killed";
  const auto resumed = RunNio(with({"--output", out, "--resume"}));
  EXPECT_EQ(resumed.code, 5) << resumed.output;
  EXPECT_NE(resumed.output.find("already done"), std::string::npos);
  ExpectSameBatchResults(Out("uninterrupted.csv"), out);
}

TEST_F(CliE2ETest, ResumeDropsAHalfWrittenLastRecord) {
  // What a kill in the middle of a write leaves: 40 whole records and part of
  // the 41st, without its newline.
  const auto full =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("whole.csv"), "--steps", "50", "--progress", "none"});
  ASSERT_EQ(full.code, 5) << full.output;
  const std::string out = Out("cut.csv");
  {
    std::ifstream in(Out("whole.csv"));
    std::ofstream cut(out);
    std::string line;
    for (int i = 0; i < 41 && std::getline(in, line); ++i) cut << line << "\n";
    ASSERT_TRUE(std::getline(in, line));
    cut << line.substr(0, line.size() / 2);
  }
  const auto resumed =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              out, "--steps", "50", "--resume", "--progress", "none"});
  EXPECT_EQ(resumed.code, 5) << resumed.output;
  EXPECT_NE(resumed.output.find("40 already done"), std::string::npos)
      << resumed.output;
  EXPECT_EQ(CountLines(out), CountLines(Out("whole.csv")));
  ExpectSameBatchResults(Out("whole.csv"), out);
}

TEST_F(CliE2ETest, ShardsUnionToTheWholeCatalog) {
  std::map<std::string, int> seen;
  for (int i = 0; i < 4; ++i) {
    const std::string out = Out("shard" + std::to_string(i) + ".jsonl");
    const auto r = RunNio({"batch", "--server", *address_, "--input", *catalog_,
                           "--output", out, "--steps", "5", "--shard",
                           std::to_string(i) + "/4", "--progress", "none"});
    EXPECT_TRUE(r.code == 0 || r.code == 5) << r.output;
    for (const auto& [id, j] : ReadJsonl(out)) seen[id]++;
  }
  const auto all =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("unsharded.jsonl"), "--steps", "5", "--progress", "none"});
  EXPECT_EQ(all.code, 5) << all.output;
  const auto whole = ReadJsonl(Out("unsharded.jsonl"));
  EXPECT_EQ(seen.size(), whole.size());
  for (const auto& [id, n] : seen) {
    EXPECT_EQ(n, 1) << id;
    EXPECT_TRUE(whole.count(id)) << id;
  }
  EXPECT_EQ(RunNio({"batch", "--server", *address_, "--input", *catalog_,
                    "--output", Out("x.jsonl"), "--shard", "4/4"})
                .code,
            2);
}

TEST_F(CliE2ETest, LocalEqualsTheServer) {
  const auto remote =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("remote.jsonl"), "--steps", "60", "--progress", "none"});
  const auto local =
      RunNio({"batch", "--local", "--backend", "cpu", "--model_dir",
              TinyModel(), "--input", *catalog_, "--output", Out("local.jsonl"),
              "--steps", "60", "--progress", "none"});
  EXPECT_EQ(remote.code, 5) << remote.output;
  EXPECT_EQ(local.code, 5) << local.output;
  const auto a = ReadJsonl(Out("remote.jsonl"));
  const auto b = ReadJsonl(Out("local.jsonl"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [id, j] : a) {
    ASSERT_TRUE(b.count(id)) << id;
    EXPECT_EQ(j["status"], b.at(id)["status"]);
    if (j["status"] != "ok") continue;
    EXPECT_NEAR(j["prediction_after"].get<double>(),
                b.at(id)["prediction_after"].get<double>(), 1e-3)
        << id;
    for (const auto& [name, change] : j["changes"].items()) {
      EXPECT_NEAR(
          change["optimized"].get<double>(),
          b.at(id)["changes"][name]["optimized"].get<double>(),
          1e-3 * std::max(1.0, std::fabs(change["optimized"].get<double>())))
          << id << " " << name;
    }
  }
  // And the single-track path: --local optimize equals the server's.
  const auto lj = RunNio({"optimize", "--local", "--model_dir", TinyModel(),
                          "--preset", "edm", "--output", "json"});
  const auto rj = RunNio({"optimize", "--server", *address_, "--preset", "edm",
                          "--output", "json"});
  ASSERT_EQ(lj.code, 0) << lj.output;
  ASSERT_EQ(rj.code, 0) << rj.output;
  EXPECT_NEAR(
      nlohmann::json::parse(lj.output)["prediction_after"].get<double>(),
      nlohmann::json::parse(rj.output)["prediction_after"].get<double>(), 1e-3);
}

}  // namespace
}  // namespace nio
