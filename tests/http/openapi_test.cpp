// /v1/openapi.json documents exactly the routes the gateway serves, and every reference resolves.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "http/openapi.hpp"
#include "http/route_table.hpp"
#include "tests/http/gateway_fixture.hpp"

namespace nca {
namespace {

using Json = nlohmann::json;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void collect_refs(const Json& j, std::set<std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "$ref" && it.value().is_string()) out.insert(it.value().get<std::string>());
      collect_refs(it.value(), out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) collect_refs(v, out);
  }
}

// Checks `doc` against the route table; returns the number of documented operations.
size_t check_document(const Json& doc) {
  EXPECT_EQ(doc["openapi"], "3.0.3");
  EXPECT_TRUE(doc["info"]["title"].is_string());
  std::set<std::pair<std::string, std::string>> documented;
  for (auto p = doc["paths"].begin(); p != doc["paths"].end(); ++p) {
    for (auto m = p.value().begin(); m != p.value().end(); ++m) {
      documented.insert({m.key(), p.key()});
      const Json& op = m.value();
      EXPECT_TRUE(op["summary"].is_string()) << p.key();
      EXPECT_TRUE(op["responses"].contains("default")) << "errors documented: " << p.key();
      // Every {param} of the path is a documented path parameter.
      std::string path = p.key();
      for (size_t open = path.find('{'); open != std::string::npos;
           open = path.find('{', open + 1)) {
        std::string name = path.substr(open + 1, path.find('}', open) - open - 1);
        bool found = false;
        for (const auto& param : op.value("parameters", Json::array())) {
          found = found || (param.value("in", "") == "path" && param.value("name", "") == name);
        }
        EXPECT_TRUE(found) << m.key() << " " << path << " does not document {" << name << "}";
      }
    }
  }
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& r : http::routes()) {
    served.insert({lower(r.method), r.path});
    // The route's query parameters are documented.
    const Json& op = doc["paths"][r.path][lower(r.method)];
    for (const auto& q : r.query) {
      bool found = false;
      for (const auto& param : op.value("parameters", Json::array())) {
        found = found || (param.value("in", "") == "query" && param.value("name", "") == q);
      }
      EXPECT_TRUE(found) << r.method << " " << r.path << " does not document ?" << q;
    }
  }
  for (const auto& op : served) {
    EXPECT_TRUE(documented.count(op))
        << "served but not documented: " << op.first << " " << op.second;
  }
  for (const auto& op : documented) {
    EXPECT_TRUE(served.count(op)) << "documented but not served: " << op.first << " " << op.second;
  }
  std::set<std::string> refs;
  collect_refs(doc, refs);
  EXPECT_FALSE(refs.empty());
  for (const auto& ref : refs) {
    const std::string schema_prefix = "#/components/schemas/";
    const std::string param_prefix = "#/components/parameters/";
    if (ref.rfind(schema_prefix, 0) == 0) {
      EXPECT_TRUE(doc["components"]["schemas"].contains(ref.substr(schema_prefix.size())))
          << "dangling " << ref;
    } else if (ref.rfind(param_prefix, 0) == 0) {
      EXPECT_TRUE(doc["components"]["parameters"].contains(ref.substr(param_prefix.size())))
          << "dangling " << ref;
    } else {
      ADD_FAILURE() << "unexpected reference " << ref;
    }
  }
  return documented.size();
}

TEST(OpenApi, DocumentMatchesTheRouteTable) {
  Json doc = Json::parse(http::openapi_document());
  EXPECT_EQ(check_document(doc), http::routes().size());
  // Schemas come from the protobuf descriptors: field names as the JSON mapping prints them.
  const Json& item = doc["components"]["schemas"]["MemoryItem"];
  EXPECT_EQ(item["properties"]["created_at_us"]["type"], "string") << "64-bit integers";
  EXPECT_EQ(item["properties"]["tier"]["enum"][1], "STM");
  EXPECT_EQ(item["properties"]["metadata"]["type"], "object");
  EXPECT_EQ(item["properties"]["tags"]["type"], "array");
}

class OpenApiServedTest : public testing::GatewayFixture {};

TEST_F(OpenApiServedTest, ServedDocumentMatchesTheRoutesThatExist) {
  auto r = call("GET", "/v1/openapi.json");
  ASSERT_EQ(r.status, 200) << testing::describe(r);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  ASSERT_TRUE(r.json.is_object());
  EXPECT_EQ(check_document(r.json), http::routes().size());
}

}  // namespace
}  // namespace nca
