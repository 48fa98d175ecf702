#include "http/dashboard_assets.hpp"

namespace nca::http {

const char* content_type_for(std::string_view path) {
  auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return nullptr;
  std::string_view ext = path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  return nullptr;
}

std::optional<Asset> find_asset(std::string_view path, const EmbeddedAsset* table) {
  const char* type = content_type_for(path);
  if (type == nullptr || table == nullptr) return std::nullopt;
  // The table is small (a handful of files): a scan is simpler than an index and as fast.
  for (const EmbeddedAsset* a = table; a->path != nullptr; ++a) {
    if (path == a->path) {
      return Asset{std::string_view(reinterpret_cast<const char*>(a->data), a->size), type};
    }
  }
  return std::nullopt;
}

}  // namespace nca::http
