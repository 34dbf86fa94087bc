#include "client/batch_key.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace nio::client {

std::vector<std::string> KeyColumns(const std::string& key_column) {
  if (key_column.empty()) return {"track_id", "track_genre"};
  return {key_column};
}

std::vector<std::string> KeyFields(const std::vector<std::string>& columns) {
  std::vector<std::string> fields;
  for (const std::string& c : columns) {
    fields.push_back(c == "track_id"                      ? "id"
                     : c == "track_genre" || c == "genre" ? "genre"
                                                          : "key");
  }
  return fields;
}

bool RecordsCarryKey(const std::vector<std::string>& columns) {
  for (const std::string& f : KeyFields(columns)) {
    if (f == "key") return true;
  }
  return false;
}

std::string EncodeKey(const std::vector<std::string>& cells) {
  std::string key;
  for (const std::string& c : cells) absl::StrAppend(&key, c.size(), ":", c);
  return key;
}

std::string DescribeKey(const std::vector<std::string>& columns,
                        const std::vector<std::string>& cells) {
  std::string text;
  for (size_t i = 0; i < columns.size() && i < cells.size(); ++i) {
    absl::StrAppend(&text, i ? ", " : "", columns[i], " '", cells[i], "'");
  }
  return text;
}

int ShardOf(const std::string& encoded_key, int count) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : encoded_key) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV-1a 64 prime
  }
  return static_cast<int>(hash % static_cast<uint64_t>(count));
}

int ShardOfRow(const CatalogRow& row, int count) {
  if (row.key.empty()) return static_cast<int>(row.ordinal % count);
  return ShardOf(EncodeKey(row.key), count);
}

}  // namespace nio::client
