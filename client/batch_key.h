// What identifies one input of `nio batch`, and so one record of its output.
// The data set lists a track under each of its genres (16,641 tracks of the
// real catalog, on 24,259 more rows), and the genre is one of the model's
// inputs: each (track_id, track_genre) pair is a distinct input, so that pair
// is the key by default. `--key-column NAME` makes that one column the key
// instead (`--key-column track_id`: one result per track id, the key of nio
// before this one).
//
// The key decides three things: a row repeating a key already read is a
// duplicate (reported with the line of the first, not run again); --resume
// skips the keys its output holds (rebuilt from each record's fields, see
// KeyFields); --shard I/N takes the rows whose key hashes to I, so a key
// lands in the same shard whatever the row order or the other rows.
#ifndef NIO_CLIENT_BATCH_KEY_H_
#define NIO_CLIENT_BATCH_KEY_H_

#include <string>
#include <vector>

#include "client/catalog_csv.h"

namespace nio::client {

// The key's columns: {"track_id", "track_genre"}, or {key_column} when one
// is named.
std::vector<std::string> KeyColumns(const std::string& key_column);

// The record field that carries each key column, so --resume can rebuild the
// key from an output: "id" for track_id, "genre" for track_genre (or genre),
// "key" for any other column (the records of such a job carry a "key" field;
// RecordsCarryKey).
std::vector<std::string> KeyFields(const std::vector<std::string>& columns);
bool RecordsCarryKey(const std::vector<std::string>& columns);

// One string per key: each cell prefixed with its length, so no two keys
// share an encoding ("a,b" + "c" is not "a" + "b,c"). Shards hash it: it
// never changes.
std::string EncodeKey(const std::vector<std::string>& cells);

// "track_id 'X', track_genre 'pop'": the key as a message names it.
std::string DescribeKey(const std::vector<std::string>& columns,
                        const std::vector<std::string>& cells);

// The shard (0..count-1) of an encoded key: 64-bit FNV-1a of its bytes,
// modulo count. A fixed function (std::hash is neither fixed across builds
// nor across machines), so the N jobs of a split, and a resumed one, agree.
int ShardOf(const std::string& encoded_key, int count);

// The shard of a catalog row: its key's, or for a row too broken to have
// one (the wrong number of fields) its position, ordinal % count, so every
// row is reported by exactly one shard.
int ShardOfRow(const CatalogRow& row, int count);

}  // namespace nio::client

#endif  // NIO_CLIENT_BATCH_KEY_H_
