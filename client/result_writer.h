// Writes batch results as they arrive, as CSV or JSON Lines (by the output
// file's extension), appending to what a previous run left so `--resume` can
// skip the keys already there. Each record is flushed whole, so a killed job
// leaves at most one partial last line, which PrepareResume (batch_resume.h)
// drops.
#ifndef NIO_CLIENT_RESULT_WRITER_H_
#define NIO_CLIENT_RESULT_WRITER_H_

#include <cstdio>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "client/result_record.h"
#include "models/nio_problem.h"

namespace nio::client {

enum class OutputFormat { kCsv, kJsonl };

// .jsonl / .json -> JSONL, .csv -> CSV, else INVALID_ARGUMENT.
absl::StatusOr<OutputFormat> FormatOf(const std::string& path);

// A failed write to `path`, `error` being the errno it left: "PATH: cannot
// write: No space left on device". RESOURCE_EXHAUSTED for a full disk or
// quota, PERMISSION_DENIED for a file that may not be written, DATA_LOSS
// otherwise.
absl::Status WriteError(const std::string& path, int error);

class ResultWriter {
 public:
  // features: the feature columns of the CSV (the features that may move).
  // with_key: the CSV has a key column after genre (a job keyed by another
  // column, client/batch_key.h). append: keep the file's records (resume);
  // else truncate.
  static absl::StatusOr<std::unique_ptr<ResultWriter>> Open(
      const std::string& path, std::vector<std::string> features, bool with_key,
      bool append);
  ~ResultWriter();

  // After a failed write every later one returns the same error without
  // writing: the file ends at the record cut short (a partial last line,
  // which --resume drops), never with records after it.
  absl::Status Write(const ResultRecord& record);

 private:
  ResultWriter() = default;
  std::string path_;
  absl::Status failed_;  // the first failed write's error
  std::FILE* file_ = nullptr;
  OutputFormat format_ = OutputFormat::kCsv;
  std::vector<std::string> features_;
  bool with_key_ = false;
};

}  // namespace nio::client

#endif  // NIO_CLIENT_RESULT_WRITER_H_
