// storage/records.hpp: encoding and decoding of the protobuf records kept in RocksDB.
//
// A record that does not parse, or that was written by a newer schema than this build understands,
// is ErrorCode::data_loss naming the record, so one bad value is reported for that record alone and
// never aborts a scan or crashes the node. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

#include "nca/result.hpp"

namespace nca::storage {

// The schema version this build writes and the newest it reads. Records carry it as field 1.
constexpr uint32_t kRecordSchemaVersion = 1;

std::string encode_record(const google::protobuf::MessageLite& record);

// Parses `bytes` as M. `what` names the record for the error ("item 'abc' in persona 'ada'").
// M must have a schema_version() field (every stored record does).
template <class M>
Result<M> decode_record(std::string_view bytes, std::string_view what) {
  M record;
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return make_error(ErrorCode::data_loss, std::string(what) + ": corrupt record (cannot parse " +
                                                std::to_string(bytes.size()) + " bytes)");
  }
  if (record.schema_version() > kRecordSchemaVersion) {
    return make_error(ErrorCode::data_loss, std::string(what) + ": record has schema_version " +
                                                std::to_string(record.schema_version()) +
                                                ", newer than this build reads (" +
                                                std::to_string(kRecordSchemaVersion) +
                                                "); upgrade the node");
  }
  return record;
}

}  // namespace nca::storage
