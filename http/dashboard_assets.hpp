// http/dashboard_assets.hpp: the dashboard's static files, compiled into the binary.
//
// cmake/EmbedFiles.cmake generates kDashboardAssets from http/dashboard/* (path "/index.html",
// bytes, size; a {nullptr, nullptr, 0} entry ends the table). find_asset() looks a path up and
// names its content type by extension; only html, js, css, svg and png are served, anything else is
// not found. Immutable data; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace nca::http {

// Must stay token-for-token the struct cmake/EmbedFiles.cmake writes (one definition rule).
struct EmbeddedAsset {
  const char* path;
  const unsigned char* data;
  std::size_t size;
};

extern const EmbeddedAsset kDashboardAssets[];

struct Asset {
  std::string_view body;
  const char* content_type;
};

// The content type served for `path`'s extension, or null when such files are not served.
const char* content_type_for(std::string_view path);

// `path` is "/index.html" style. `table` defaults to the compiled-in dashboard.
std::optional<Asset> find_asset(std::string_view path,
                                const EmbeddedAsset* table = kDashboardAssets);

}  // namespace nca::http
