// The web page's files (service/web/), embedded in the binary at build time
// so the page works offline and always matches the server.
#ifndef NIO_SERVICE_WEB_ASSETS_H_
#define NIO_SERVICE_WEB_ASSETS_H_

#include <span>
#include <string_view>

namespace nio::service {

struct WebAsset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // by the file's extension
  std::string_view body;
};

std::span<const WebAsset> WebAssets();

}  // namespace nio::service

#endif  // NIO_SERVICE_WEB_ASSETS_H_
