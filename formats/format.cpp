#include "formats/format.hpp"

#include "common/digest.hpp"

namespace arca::formats {

Credential authorization_credential(const net::Request& request) {
  std::string_view h = request.header("authorization");
  Credential out;
  if (h.size() > 7 && net::iequals(h.substr(0, 7), "Bearer ")) {
    out.token = std::string(h.substr(7));
  } else if (h.size() > 6 && net::iequals(h.substr(0, 6), "Basic ")) {
    auto decoded = base64_decode(h.substr(6));
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      out.malformed = true;
      return out;
    }
    out.token = decoded->substr(colon + 1);
  } else {
    out.token = std::string(h);
  }
  while (!out.token.empty() && out.token.back() == ' ') out.token.pop_back();
  return out;
}

void Format::refusal(const Refusal& refusal, net::Headers& headers, std::string& body) const {
  headers.emplace_back("Content-Type", "text/plain");
  if (refusal.status == 401) headers.emplace_back("WWW-Authenticate", "Basic realm=\"arca\"");
  body = std::to_string(refusal.status) +
         (refusal.status == 401 ? " Unauthorized: " : " Forbidden: ") + refusal.reason + "\n";
}

}  // namespace arca::formats
