// `nio batch` keys its results by (track_id, track_genre), or by the one
// column --key-column names (client/batch_key.h): a track under two genres
// is two results, a row repeating a key is a duplicate (reported, and no
// failure), and --resume and --shard stay exactly-once under the key. The
// last test runs the real data set (../shared/data) and accounts for every
// row. The key functions themselves, then the real nio binary with --local
// on the tiny test model.
#include "client/batch_key.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client/catalog_csv.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace nio {
namespace {

namespace fs = std::filesystem;
using client::DescribeKey;
using client::EncodeKey;
using client::KeyColumns;
using client::KeyFields;
using client::RecordsCarryKey;
using client::ShardOf;
using client::SplitCsvLine;
using nio::testing::RunResult;
using Strings = std::vector<std::string>;
using namespace std::chrono_literals;

TEST(BatchKeyTest, TheDefaultKeyIsTheTrackIdAndGenrePair) {
  EXPECT_EQ(KeyColumns(""), (Strings{"track_id", "track_genre"}));
  EXPECT_EQ(KeyColumns("isrc"), Strings{"isrc"});
  // The record fields --resume rebuilds a key from: only a column neither
  // id nor genre carries needs a field of its own.
  EXPECT_EQ(KeyFields({"track_id", "track_genre"}), (Strings{"id", "genre"}));
  EXPECT_EQ(KeyFields({"genre"}), Strings{"genre"});
  EXPECT_EQ(KeyFields({"isrc"}), Strings{"key"});
  EXPECT_FALSE(RecordsCarryKey({"track_id", "track_genre"}));
  EXPECT_FALSE(RecordsCarryKey({"track_id"}));
  EXPECT_TRUE(RecordsCarryKey({"isrc"}));
  EXPECT_EQ(DescribeKey({"track_id", "track_genre"}, {"a", "pop"}),
            "track_id 'a', track_genre 'pop'");
}

TEST(BatchKeyTest, NoTwoKeysShareAnEncoding) {
  EXPECT_NE(EncodeKey({"a,b", "c"}), EncodeKey({"a", "b,c"}));
  EXPECT_NE(EncodeKey({"a:", "b"}), EncodeKey({"a", ":b"}));
  EXPECT_NE(EncodeKey({"x"}), EncodeKey({"x", ""}));
  EXPECT_EQ(EncodeKey({"x", "pop"}), EncodeKey({"x", "pop"}));
}

TEST(BatchKeyTest, AKeysShardIsTheSameOnEveryBuildAndMachine) {
  // 64-bit FNV-1a, pinned: another hash would split a job's shards another
  // way than the outputs it resumes.
  EXPECT_EQ(ShardOf(EncodeKey({"5SuOikwiRyPMVoIQDJUgSV", "acoustic"}), 1000),
            668);
  EXPECT_EQ(ShardOf(EncodeKey({"5SuOikwiRyPMVoIQDJUgSV", "pop"}), 1000), 175);
  EXPECT_EQ(ShardOf(EncodeKey({"a"}), 1000), 129);
  EXPECT_EQ(ShardOf(EncodeKey({"a"}), 1), 0);
}

TEST(BatchKeyTest, ARowWithoutAKeyFallsToTheShardOfItsPosition) {
  client::CatalogRow row;
  row.ordinal = 7;
  EXPECT_EQ(client::ShardOfRow(row, 4), 3);
  row.key = {"a"};
  EXPECT_EQ(client::ShardOfRow(row, 1000), 129);
}

// ------------------------------------------------------------ end to end

using Key = std::pair<std::string, std::string>;  // (id, genre)

RunResult RunNio(std::vector<std::string> args,
                 std::chrono::seconds timeout = 120s) {
  args.insert(args.begin(), NIO_CLI_BINARY);
  return nio::testing::RunProgram(args, timeout);
}

bool Has(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

// A batch output's records by (id, genre): JSONL records as they are, CSV
// rows as objects of their cells; a key twice is a failure.
std::map<Key, nlohmann::json> ReadResults(const std::string& path) {
  std::map<Key, nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  const bool csv = path.size() > 4 && path.substr(path.size() - 4) == ".csv";
  Strings header;
  if (csv && std::getline(in, line)) header = SplitCsvLine(line);
  while (std::getline(in, line)) {
    nlohmann::json j;
    if (csv) {
      const Strings cells = SplitCsvLine(line);
      for (size_t c = 0; c < cells.size() && c < header.size(); ++c)
        j[header[c]] = cells[c];
    } else {
      j = nlohmann::json::parse(line);
    }
    const Key key{j["id"], j["genre"]};
    EXPECT_EQ(out.count(key), 0u)
        << "key twice: " << key.first << ", " << key.second;
    out[key] = j;
  }
  return out;
}

std::set<Key> KeysOf(const std::map<Key, nlohmann::json>& results) {
  std::set<Key> keys;
  for (const auto& [key, j] : results) keys.insert(key);
  return keys;
}

// The count in the summary line before `what` ("duplicates skipped").
int64_t SummaryCount(const std::string& output, const std::string& what) {
  std::smatch m;
  if (!std::regex_search(output, m, std::regex("(\\d+) " + what))) return -1;
  return std::stoll(m[1]);
}

class BatchKeyE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = nio::testing::FreshScratchDir("nio_batch_key");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }

  std::string Catalog(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
    return Path(name);
  }

  // 220 rows for the tiny model: 100 ids, each under two genres (200 keys),
  // then 20 rows repeating keys of the first 20 rows (duplicates).
  std::string RepeatedIdsCatalog(bool reversed = false) {
    const char* genres[] = {"acoustic", "chill", "edm", "pop", "sad"};
    Strings rows;
    for (int i = 0; i < 220; ++i) {
      const int id = i < 200 ? i % 100 : i - 200;
      const int genre = i < 100 || i >= 200 ? id % 5 : (id + 1) % 5;
      rows.push_back("t" + std::to_string(id) + "," +
                     std::to_string((i % 89) / 100.0) + "," +
                     std::to_string((i % 97) / 100.0) + "," + genres[genre]);
    }
    if (reversed) std::reverse(rows.begin(), rows.end());
    std::string text = "track_id,danceability,energy,track_genre\n";
    for (const std::string& r : rows) text += r + "\n";
    return Catalog(reversed ? "reversed.csv" : "repeated.csv", text);
  }

  Strings Job(const std::string& input, const std::string& output,
              Strings extra = {}) {
    Strings args = {"batch",          "--local",   "--backend",  "cpu",
                    "--model_dir",    TestModel(), "--input",    input,
                    "--output",       output,      "--steps",    "5",
                    "--fill-missing", "mean",      "--progress", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  static std::string TestModel() {
    return nio::testing::TestDataDir() + "/tiny_model";
  }

  fs::path dir_;
};

TEST_F(BatchKeyE2ETest, ATrackUnderTwoGenresIsTwoResultsAndARepeatADuplicate) {
  const std::string csv =
      Catalog("small.csv",
              "track_id,danceability,energy,track_genre\n"
              "a,0.5,0.5,pop\n"    // line 2
              "a,0.6,0.4,edm\n"    // line 3: the same track, another genre
              "b,0.5,0.5,pop\n"    // line 4
              "a,0.5,0.5,pop\n");  // line 5: line 2 again
  for (const char* name : {"small.jsonl", "small.csv.out.csv"}) {
    const auto r = RunNio(Job(csv, Path(name)));
    // A duplicate is no failure: its key's result is in the output.
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(Has(r.output,
                    "duplicate row skipped: " + csv +
                        ": line 5: track_id 'a', track_genre 'pop' already at "
                        "line 2"))
        << r.output;
    EXPECT_FALSE(Has(r.output, "bad row skipped")) << r.output;
    EXPECT_TRUE(Has(r.output, "Batch summary: 4 tracks: ")) << r.output;
    EXPECT_TRUE(
        Has(r.output, "0 failed, 0 bad rows skipped, 1 duplicates skipped"))
        << r.output;
    const auto results = ReadResults(Path(name));
    EXPECT_EQ(KeysOf(results),
              (std::set<Key>{{"a", "pop"}, {"a", "edm"}, {"b", "pop"}}));
    EXPECT_EQ(
        results.at({"a", "pop"})["line"].dump(),
        std::string(name).find(".csv") != std::string::npos ? "\"2\"" : "2");
  }
  // Each genre's record is its own row's: the originals differ.
  const auto results = ReadResults(Path("small.jsonl"));
  EXPECT_EQ(results.at({"a", "pop"})["changes"][0]["original"], 0.5);
  EXPECT_EQ(results.at({"a", "edm"})["changes"][0]["original"], 0.6);
}

TEST_F(BatchKeyE2ETest, AFailedTrackIsNamedByItsTrackId) {
  // The engine knows each track by its catalog line (a track_id may be on
  // several rows); what it says about one names the track_id.
  const std::string csv =
      Catalog("failing.csv",
              "track_id,danceability,track_genre\na,0.5,pop\na,0.5,polka\n");
  const auto r = RunNio(Job(csv, Path("failing.jsonl")));
  EXPECT_EQ(r.code, 5) << r.output;
  const auto results = ReadResults(Path("failing.jsonl"));
  ASSERT_EQ(results.count({"a", "polka"}), 1u) << r.output;
  const std::string error = results.at({"a", "polka"})["error"];
  EXPECT_EQ(error.rfind("track 'a': ", 0), 0u) << error;
  EXPECT_TRUE(Has(r.output, "line 3: track 'a': ")) << r.output;
  EXPECT_FALSE(Has(r.output, "track '3'")) << r.output;
}

TEST_F(BatchKeyE2ETest, KeyColumnMakesThatColumnAloneTheKey) {
  // track_id alone: one result per id, a second genre is a duplicate.
  const std::string by_id = Catalog("ids.csv",
                                    "track_id,danceability,track_genre\n"
                                    "a,0.5,pop\n"  // line 2
                                    "a,0.6,edm\n"  // line 3
                                    "b,0.5,pop\n");
  auto r =
      RunNio(Job(by_id, Path("by-id.jsonl"), {"--key-column", "track_id"}));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, ": line 3: track_id 'a' already at line 2"))
      << r.output;
  EXPECT_EQ(KeysOf(ReadResults(Path("by-id.jsonl"))),
            (std::set<Key>{{"a", "pop"}, {"b", "pop"}}));
  const auto manifest = nlohmann::json::parse(
      std::ifstream(Path("by-id.jsonl") + ".manifest.json"));
  EXPECT_EQ(manifest["key"], nlohmann::json({"track_id"}));
  // A resume under another key is refused, naming the flag and both keys.
  r = RunNio(Job(by_id, Path("by-id.jsonl"), {"--resume"}));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(Has(r.output, "--resume: --key-column differs")) << r.output;
  EXPECT_TRUE(Has(r.output, "track_genre")) << r.output;
  // Another column: the records carry it as "key", so --resume can rebuild
  // it; an empty cell of it is a bad row.
  const std::string by_isrc = Catalog("isrc.csv",
                                      "track_id,isrc,danceability,track_genre\n"
                                      "a,X1,0.5,pop\n"  // line 2
                                      "a,X2,0.6,edm\n"  // line 3
                                      "b,X1,0.5,pop\n"  // line 4: X1 again
                                      "c,,0.5,pop\n");  // line 5: no key
  for (const char* name : {"by-isrc.jsonl", "by-isrc.csv"}) {
    r = RunNio(Job(by_isrc, Path(name), {"--key-column", "isrc"}));
    EXPECT_EQ(r.code, 5) << r.output;  // the bad row
    EXPECT_TRUE(Has(r.output, ": line 4: isrc 'X1' already at line 2"))
        << r.output;
    EXPECT_TRUE(Has(r.output, ": line 5: isrc: empty")) << r.output;
    const auto results = ReadResults(Path(name));
    EXPECT_EQ(KeysOf(results), (std::set<Key>{{"a", "pop"}, {"a", "edm"}}));
    EXPECT_EQ(results.at({"a", "edm"})["key"], "X2");
    r = RunNio(Job(by_isrc, Path(name), {"--key-column", "isrc", "--resume"}));
    EXPECT_EQ(r.code, 5) << r.output;
    EXPECT_TRUE(Has(r.output, "2 already done")) << r.output;
    EXPECT_EQ(ReadResults(Path(name)).size(), 2u);
  }
  std::ifstream csv_out(Path("by-isrc.csv"));
  std::string header;
  std::getline(csv_out, header);
  EXPECT_EQ(header.rfind("id,genre,key,line,status,", 0), 0u) << header;
  // A column the catalog does not have.
  r = RunNio(Job(by_id, Path("nope.jsonl"), {"--key-column", "nope"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(Has(r.output, "no column 'nope'")) << r.output;
  EXPECT_TRUE(Has(r.output, "--key-column")) << r.output;
}

TEST_F(BatchKeyE2ETest, ResumeAfterAnInterruptionRunsEveryKeyOnce) {
  const std::string csv = RepeatedIdsCatalog();
  for (const std::string ext : {".jsonl", ".csv"}) {
    const std::string whole = Path("whole" + ext), cut = Path("cut" + ext);
    const auto full = RunNio(Job(csv, whole));
    ASSERT_EQ(full.code, 0) << full.output;
    EXPECT_EQ(SummaryCount(full.output, "duplicates skipped"), 20)
        << full.output;
    const auto expected = ReadResults(whole);
    ASSERT_EQ(expected.size(), 200u);
    // What a kill in the middle of a write leaves: 60 whole records and part
    // of the 61st, and the manifest.
    {
      std::ifstream in(whole);
      std::ofstream out(cut);
      std::string line;
      const int lines = ext == ".csv" ? 61 : 60;  // the CSV's header
      for (int i = 0; i < lines && std::getline(in, line); ++i)
        out << line << "\n";
      ASSERT_TRUE(std::getline(in, line));
      out << line.substr(0, line.size() / 2);
    }
    fs::copy_file(whole + ".manifest.json", cut + ".manifest.json");
    const auto resumed = RunNio(Job(csv, cut, {"--resume"}));
    EXPECT_EQ(resumed.code, 0) << resumed.output;
    EXPECT_TRUE(Has(resumed.output, "60 already done")) << resumed.output;
    EXPECT_EQ(SummaryCount(resumed.output, "duplicates skipped"), 20)
        << resumed.output;
    // Every key once, with the uninterrupted run's record (the CPU backend
    // gives a track the same answer in any batch).
    const auto got = ReadResults(cut);
    EXPECT_EQ(KeysOf(got), KeysOf(expected));
    for (const auto& [key, j] : expected) {
      ASSERT_TRUE(got.count(key)) << key.first << ", " << key.second;
      EXPECT_EQ(got.at(key), j) << key.first << ", " << key.second;
    }
  }
}

TEST_F(BatchKeyE2ETest, ShardsSplitTheKeysOnceWhateverTheRowOrder) {
  const std::string csv = RepeatedIdsCatalog();
  ASSERT_EQ(RunNio(Job(csv, Path("all.jsonl"))).code, 0);
  const std::set<Key> all = KeysOf(ReadResults(Path("all.jsonl")));
  std::map<Key, int> seen;
  std::set<Key> shard_zero;
  int64_t duplicates = 0;
  for (int i = 0; i < 2; ++i) {
    const std::string out = Path("shard" + std::to_string(i) + ".jsonl");
    const auto r = RunNio(Job(csv, out, {"--shard", std::to_string(i) + "/2"}));
    EXPECT_EQ(r.code, 0) << r.output;
    // A key's rows are all in its shard: so are its duplicates.
    duplicates += SummaryCount(r.output, "duplicates skipped");
    const auto keys = KeysOf(ReadResults(out));
    EXPECT_GT(keys.size(), 50u) << "a lopsided split";
    for (const Key& k : keys) ++seen[k];
    if (i == 0) shard_zero = keys;
  }
  EXPECT_EQ(duplicates, 20);
  EXPECT_EQ(seen.size(), all.size());
  for (const auto& [key, n] : seen) {
    EXPECT_EQ(n, 1) << key.first << ", " << key.second;
    EXPECT_TRUE(all.count(key)) << key.first << ", " << key.second;
  }
  // The shard follows the key, not the row's position.
  const std::string reversed = RepeatedIdsCatalog(true);
  const auto r =
      RunNio(Job(reversed, Path("reversed0.jsonl"), {"--shard", "0/2"}));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(KeysOf(ReadResults(Path("reversed0.jsonl"))), shard_zero);
}

TEST_F(BatchKeyE2ETest, AnOutputOfAnOlderNioContinuesOnlyUnderItsKey) {
  // nio before keys wrote manifest version 1 and keyed results by track_id.
  const std::string csv = RepeatedIdsCatalog();
  const std::string out = Path("old.jsonl");
  ASSERT_EQ(RunNio(Job(csv, out, {"--key-column", "track_id"})).code, 0);
  auto manifest = nlohmann::json::parse(std::ifstream(out + ".manifest.json"));
  manifest["manifest_version"] = 1;
  manifest.erase("key");
  std::ofstream(out + ".manifest.json") << manifest.dump(2);
  auto r = RunNio(Job(csv, out, {"--resume"}));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(Has(r.output, "--key-column differs")) << r.output;
  r = RunNio(Job(csv, out, {"--resume", "--key-column", "track_id"}));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, "100 already done")) << r.output;
  // Its shards were every N-th row: another split than a key's hash.
  manifest["shard"] = "0/2";
  std::ofstream(out + ".manifest.json") << manifest.dump(2);
  r = RunNio(Job(csv, out,
                 {"--resume", "--key-column", "track_id", "--shard", "0/2"}));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(Has(r.output, "--shard differs")) << r.output;
  EXPECT_TRUE(Has(r.output, "by row position")) << r.output;
}

// The real data set lists 16,641 tracks under several genres. Every data row
// must come out as exactly one of: a result (the first row of its
// (track_id, track_genre) pair), a bad row (a value the model refuses) or a
// duplicate (a pair already read). --steps 1 keeps it to seconds.
TEST_F(BatchKeyE2ETest, EveryRowOfTheRealCatalogIsAResultABadRowOrADuplicate) {
  const std::string data = NIO_DATA_CSV;
  if (!fs::exists(data)) {
    GTEST_SKIP() << "no data set at " << data
                 << " (see ../shared/data/README.md)";
  }
  // The catalog's own count, read here: the pair of every data line.
  std::map<int64_t, Key> rows;
  {
    std::ifstream in(data);
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    const Strings header = SplitCsvLine(line);
    const auto column = [&](const std::string& name) {
      return std::find(header.begin(), header.end(), name) - header.begin();
    };
    const size_t id = column("track_id"), genre = column("track_genre");
    ASSERT_LT(std::max(id, genre), header.size());
    for (int64_t n = 2; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      const Strings cells = SplitCsvLine(line);
      ASSERT_EQ(cells.size(), header.size()) << "line " << n;
      rows[n] = {cells[id], cells[genre]};
    }
  }
  const std::string out = Path("real.csv");
  const auto start = std::chrono::steady_clock::now();
  const auto r = RunNio({"batch", "--local", "--threads", "2", "--input", data,
                         "--output", out, "--steps", "1", "--progress", "none"},
                        600s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  // The lines the job reported, and why.
  std::set<int64_t> bad, duplicate;
  {
    std::istringstream log(r.output);
    std::string line;
    while (std::getline(log, line)) {
      const bool is_bad = line.rfind("bad row skipped: ", 0) == 0;
      const bool is_duplicate = line.rfind("duplicate row skipped: ", 0) == 0;
      if (!is_bad && !is_duplicate) continue;
      const size_t at = line.find(": line ");
      ASSERT_NE(at, std::string::npos) << line;
      (is_bad ? bad : duplicate).insert(std::stoll(line.substr(at + 7)));
      // Bad only for a value the model refuses, never a misread row.
      if (is_bad) EXPECT_TRUE(Has(line, "outside the valid range")) << line;
    }
  }
  // What the rows say: the first good row of each pair runs, later good rows
  // of it are duplicates; a pair seen only on bad rows has no result.
  std::map<Key, int64_t> first;
  std::set<int64_t> expected_duplicates;
  std::set<Key> pairs;
  for (const auto& [line, key] : rows) {
    pairs.insert(key);
    if (bad.count(line)) continue;
    if (!first.emplace(key, line).second) expected_duplicates.insert(line);
  }
  std::set<Key> expected_keys;
  for (const auto& [key, line] : first) expected_keys.insert(key);
  // The CSV output's id and genre cells, every record a key once.
  std::set<Key> result_keys;
  int64_t results = 0;
  {
    std::ifstream in(out);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      const Strings cells = SplitCsvLine(line);
      ASSERT_GE(cells.size(), 2u) << line;
      ++results;
      EXPECT_TRUE(result_keys.insert({cells[0], cells[1]}).second)
          << "key twice: " << cells[0] << ", " << cells[1];
    }
  }
  EXPECT_EQ(r.code, bad.empty() ? 0 : 5) << r.output.substr(0, 2000);
  EXPECT_EQ(results + static_cast<int64_t>(bad.size() + duplicate.size()),
            static_cast<int64_t>(rows.size()));
  EXPECT_EQ(duplicate, expected_duplicates);
  EXPECT_EQ(result_keys, expected_keys);
  // So every (track_id, track_genre) pair has a result but those the model
  // refuses on every row they are on.
  int64_t refused_pairs = 0;
  for (const Key& key : pairs) refused_pairs += first.count(key) == 0;
  EXPECT_EQ(results, static_cast<int64_t>(pairs.size()) - refused_pairs);
  EXPECT_TRUE(Has(
      r.output, "Batch summary: " + std::to_string(rows.size()) + " tracks: "))
      << r.output.substr(r.output.find("Batch summary"));
  EXPECT_EQ(SummaryCount(r.output, "bad rows skipped"),
            static_cast<int64_t>(bad.size()));
  EXPECT_EQ(SummaryCount(r.output, "duplicates skipped"),
            static_cast<int64_t>(duplicate.size()));
  std::cout << rows.size() << " data rows, " << pairs.size()
            << " (track_id, track_genre) pairs: " << results << " results, "
            << bad.size() << " bad rows (" << refused_pairs
            << " pairs only on bad rows), " << duplicate.size()
            << " duplicates; " << seconds << " s\n";
  RecordProperty("seconds", std::to_string(seconds));
  RecordProperty("results", std::to_string(results));
}

}  // namespace
}  // namespace nio
