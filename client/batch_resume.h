// What a batch output already holds when a job resumes, and the command that
// resumes one.
#ifndef NIO_CLIENT_BATCH_RESUME_H_
#define NIO_CLIENT_BATCH_RESUME_H_

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"

namespace nio::client {

struct ResumeState {
  // The keys with a result (EncodeKey of the key fields, batch_key.h).
  std::unordered_set<std::string> done;
  int64_t retry = 0;  // failed records dropped so their tracks run again
};

// Reads an output file before appending to it: drops a partial last record
// left by a killed run and the records of tracks that failed (so --resume
// retries them and the file keeps one record per key). key_fields: the
// record fields that make a record's key (KeyFields); a file whose records
// lack one is INVALID_ARGUMENT. An absent file holds nothing.
absl::StatusOr<ResumeState> PrepareResume(
    const std::string& path, const std::vector<std::string>& key_fields);

// The command line that continues this job: argv with --overwrite dropped
// and --resume added, quoted for a POSIX shell.
std::string ResumeCommand(const std::vector<std::string>& argv);

}  // namespace nio::client

#endif  // NIO_CLIENT_BATCH_RESUME_H_
