#include "storage/records.hpp"

namespace nca::storage {

std::string encode_record(const google::protobuf::MessageLite& record) {
  std::string out;
  record.SerializeToString(&out);
  return out;
}

}  // namespace nca::storage
