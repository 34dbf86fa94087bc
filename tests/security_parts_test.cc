// The parts of the server's security, each alone: the token table (what a
// token file may hold, and which holder a token finds), the per-caller
// ledger and per-request limits, and the progress-rate bucket.
#include <chrono>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "service/auth_tokens.h"
#include "service/caller_identity.h"
#include "service/caller_ledger.h"
#include "service/request_limits.h"
#include "service/token_bucket.h"

namespace nio::service {
namespace {

constexpr char kAlice[] = "alice-token-0123456789";
constexpr char kBob[] = "bob-token-abcdefghijkl";

TEST(TokenTableTest, FindsEachHolderAndNoOneElse) {
  auto table = TokenTable::Parse(absl::StrCat("# callers\n\nalice ", kAlice,
                                              "\n  bob\t", kBob, " batch\n"),
                                 "tokens.txt");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  const TokenHolder* alice = table->Find(kAlice);
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_FALSE(alice->batch_only);
  const TokenHolder* bob = table->Find(kBob);
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->name, "bob");
  EXPECT_TRUE(bob->batch_only);
  EXPECT_EQ(table->Find(""), nullptr);
  EXPECT_EQ(table->Find("alice"), nullptr);
  EXPECT_EQ(table->Find(std::string(kAlice) + "x"), nullptr);
  EXPECT_EQ(table->Find(std::string(kAlice).substr(1)), nullptr);
}

TEST(TokenTableTest, MalformedFilesNameTheLineAndNeverTheToken) {
  const std::string secret = "s3cret-s3cret-s3cret";
  struct Case {
    std::string text;
    std::string fragment;
  };
  const Case cases[] = {
      {"", "no tokens"},
      {"# only a comment\n", "no tokens"},
      {"alice\n", "tokens.txt:1: expected 'NAME TOKEN"},
      // Swapped fields: the token must not show in the error.
      {secret + " alice\n", "shorter than 16"},
      {"alice " + secret + "\xc3\xa9\n", "printable ASCII"},
      {"alice " + secret + " batch extra\n", "4 fields"},
      {"al/ice " + secret + "\n", "the name (first field)"},
      {"alice short\n", "shorter than 16"},
      {"alice " + secret + " admin\n", "the class (third field)"},
      {"\nalice " + secret + "\nalice " + std::string(kBob) + "\n",
       "tokens.txt:3: the name is also"},
      {"alice " + secret + "\nbob " + secret + "\n", "also an earlier line's"},
  };
  for (const Case& c : cases) {
    auto table = TokenTable::Parse(c.text, "tokens.txt");
    ASSERT_FALSE(table.ok()) << c.text;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(table.status().message().find(c.fragment), std::string::npos)
        << table.status().message();
    EXPECT_EQ(table.status().message().find(secret), std::string::npos)
        << "the token leaked: " << table.status().message();
  }
  auto missing = TokenTable::Load("/nonexistent/tokens.txt");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("--auth_tokens"),
            std::string::npos);
}

TEST(BearerTokenTest, TakesTheTokenOfABearerHeaderOnly) {
  EXPECT_EQ(BearerToken(absl::StrCat("Bearer ", kAlice)), kAlice);
  EXPECT_EQ(BearerToken(absl::StrCat("bEaReR   ", kAlice, " ")), kAlice);
  EXPECT_EQ(BearerToken(""), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer   "), std::nullopt);
  EXPECT_EQ(BearerToken(absl::StrCat("Basic ", kAlice)), std::nullopt);
  EXPECT_EQ(BearerToken(absl::StrCat("Bearer", kAlice)), std::nullopt);
  EXPECT_EQ(BearerToken(kAlice), std::nullopt);
}

TEST(CallerIdentityTest, ATokensNameIsTheShareKeyOnEveryConnection) {
  auto table = TokenTable::Parse(
      absl::StrCat("alice ", kAlice, "\nbob ", kBob, " batch\n"), "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  CallerPolicy policy;
  policy.tokens = &*table;
  auto call = [](const std::string& peer, const std::string& token) {
    CallFacts c;
    c.peer = peer;
    c.authorization = "Bearer " + token;
    return c;
  };
  auto one = IdentifyCaller(call("ipv4:10.0.0.7:5000", kAlice), policy);
  auto two = IdentifyCaller(call("ipv6:[::1]:6000", kAlice), policy);
  auto bob = IdentifyCaller(call("ipv4:10.0.0.7:5000", kBob), policy);
  ASSERT_TRUE(one.ok() && two.ok() && bob.ok());
  EXPECT_EQ(one->share_key, "alice");
  EXPECT_EQ(one->name, "alice");
  EXPECT_EQ(one->label, "alice");
  EXPECT_EQ(two->share_key, "alice");
  EXPECT_EQ(bob->share_key, "bob");
  EXPECT_TRUE(bob->batch_only);
  // All of alice's streams, from anywhere, are one share of the batch block.
  EXPECT_EQ(StreamShareKey(*one, 1), StreamShareKey(*two, 2));
  EXPECT_NE(StreamShareKey(*one, 1), StreamShareKey(*bob, 3));

  EXPECT_EQ(
      IdentifyCaller(call("ipv4:10.0.0.7:5000", "nobody-0123456789"), policy)
          .status()
          .code(),
      absl::StatusCode::kUnauthenticated);
  CallFacts bare;
  bare.peer = "ipv4:10.0.0.7:5000";
  EXPECT_EQ(IdentifyCaller(bare, policy).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(CallerIdentityTest, WithoutTokensEachConnectionAndStreamIsItsOwnShare) {
  const CallerPolicy open;
  CallFacts a, b;
  a.peer = "ipv4:10.0.0.7:5000";
  b.peer = "ipv4:10.0.0.7:5001";
  auto ca = IdentifyCaller(a, open);
  auto cb = IdentifyCaller(b, open);
  ASSERT_TRUE(ca.ok() && cb.ok());
  // One host's limits, two connections' shares, a share per stream.
  EXPECT_EQ(ca->name, "ipv4:10.0.0.7");
  EXPECT_EQ(cb->name, "ipv4:10.0.0.7");
  EXPECT_EQ(ca->label, kAnonymousCaller);
  EXPECT_NE(ca->share_key, cb->share_key);
  EXPECT_NE(StreamShareKey(*ca, 1), StreamShareKey(*ca, 2));
  // A token sent to a server that asks for none changes nothing.
  a.authorization = absl::StrCat("Bearer ", kAlice);
  EXPECT_EQ(IdentifyCaller(a, open)->share_key, ca->share_key);
}

TEST(CallerIdentityTest, OnlyTheGatewaysSecretNamesAnHttpClient) {
  CallerPolicy policy;
  policy.gateway_secret = "0123456789abcdef0123456789abcdef";
  CallFacts call;
  call.peer = "unix:/tmp/nio/grpc";
  call.http_peer = "10.1.2.3";
  call.gateway_secret = policy.gateway_secret;
  EXPECT_EQ(IdentifyCaller(call, policy)->name, "http:10.1.2.3");
  call.gateway_secret[0] = 'x';
  EXPECT_EQ(IdentifyCaller(call, policy)->name, "unix:/tmp/nio/grpc");
}

Caller Named(const std::string& name) {
  Caller c;
  c.name = c.share_key = c.label = name;
  c.authenticated = true;
  return c;
}

TEST(CallerLedgerTest, HoldsEachCallerToItsOwnLimit) {
  RequestLimits limits;
  limits.max_caller_track_steps = 1000;
  limits.max_streams_per_caller = 2;
  CallerLedger ledger(limits);
  const Caller alice = Named("alice"), bob = Named("bob");
  EXPECT_TRUE(ledger.Reserve(alice, 600).ok());
  EXPECT_TRUE(ledger.Reserve(alice, 400).ok());  // exactly the limit
  absl::Status over = ledger.Reserve(alice, 1);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("--max_caller_track_steps"), std::string::npos)
      << over.message();
  EXPECT_NE(over.message().find("alice"), std::string::npos);
  EXPECT_TRUE(ledger.Reserve(bob, 1000).ok());  // bob has his own
  ledger.Release(alice, 600);
  EXPECT_TRUE(ledger.Reserve(alice, 600).ok());
  EXPECT_EQ(ledger.UsageByLabel()["alice"].track_steps, 1000);

  EXPECT_TRUE(ledger.OpenStream(alice).ok());
  EXPECT_TRUE(ledger.OpenStream(alice).ok());
  absl::Status third = ledger.OpenStream(alice);
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.message().find("--max_streams_per_caller"),
            std::string::npos);
  ledger.CloseStream(alice);
  EXPECT_TRUE(ledger.OpenStream(alice).ok());

  // Callers that hold nothing are forgotten.
  ledger.Release(bob, 1000);
  EXPECT_EQ(ledger.UsageByLabel().count("bob"), 0u);
}

TEST(CallerLedgerTest, AnonymousCallersAddUpUnderOneLabel) {
  CallerLedger ledger(RequestLimits{});
  Caller a, b;
  a.name = "ipv4:10.0.0.1";
  b.name = "ipv4:10.0.0.2";
  a.label = b.label = kAnonymousCaller;
  ASSERT_TRUE(ledger.Reserve(a, 10).ok());
  ASSERT_TRUE(ledger.Reserve(b, 5).ok());
  auto usage = ledger.UsageByLabel();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[kAnonymousCaller].track_steps, 15);
}

TEST(RequestLimitsTest, EachLimitNamesItsFlag) {
  RequestLimits limits;
  limits.max_tracks_per_request = 3;
  limits.max_track_steps = 1000;
  EXPECT_TRUE(CheckTrackCount(3, limits).ok());
  absl::Status many = CheckTrackCount(4, limits);
  EXPECT_EQ(many.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(many.message().find("--max_tracks_per_request"), std::string::npos);
  models::NioProblem p;
  p.id = "t1";
  p.steps = 250;
  p.starts = 4;
  EXPECT_EQ(TrackSteps(p), 1000);
  EXPECT_TRUE(CheckTrackSteps(p, limits).ok());
  p.starts = 5;
  absl::Status costly = CheckTrackSteps(p, limits);
  EXPECT_EQ(costly.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(costly.message().find("250 x 5 = 1250"), std::string::npos)
      << costly.message();
  EXPECT_NE(costly.message().find("--max_track_steps"), std::string::npos);
  EXPECT_NE(costly.message().find("track 't1'"), std::string::npos);
}

TEST(TokenBucketTest, AllowsTheBurstThenTheRate) {
  using namespace std::chrono_literals;
  TokenBucket bucket(10, 10);  // 10/s, bursts of 10
  const auto t0 = TokenBucket::Clock::time_point{} + 1h;
  int taken = 0;
  for (int i = 0; i < 100; ++i) taken += bucket.Take(t0);
  EXPECT_EQ(taken, 10);
  // One second later: ten more, never more than the burst.
  taken = 0;
  for (int i = 0; i < 100; ++i) taken += bucket.Take(t0 + 1s);
  EXPECT_EQ(taken, 10);
  taken = 0;
  for (int i = 0; i < 100; ++i) taken += bucket.Take(t0 + 100s);
  EXPECT_EQ(taken, 10);
  TokenBucket none(0, 0);
  EXPECT_FALSE(none.Take(t0));
}

}  // namespace
}  // namespace nio::service
