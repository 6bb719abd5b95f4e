#include "tether/host_info.h"

#include <resolv.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "addressing/resolver.h"
#include "tether/detail/object_life.h"

namespace tether {

namespace {

constexpr std::string_view kNoHostNameGiven = "No host name given";
constexpr std::string_view kInvalidHostname = "Invalid hostname";

// ---------------------------------------------------------------- IDNA

// RFC 3492 parameters.
constexpr std::uint32_t kBase = 36;
constexpr std::uint32_t kTMin = 1;
constexpr std::uint32_t kTMax = 26;
constexpr std::uint32_t kSkew = 38;
constexpr std::uint32_t kDamp = 700;
constexpr std::uint32_t kInitialBias = 72;
constexpr std::uint32_t kInitialN = 0x80;

constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMaxNameLength = 253;  // without the trailing dot

char punycodeDigit(std::uint32_t d) {
  return d < 26 ? static_cast<char>('a' + d) : static_cast<char>('0' + (d - 26));
}

std::uint32_t adaptBias(std::uint32_t delta, std::uint32_t points, bool first) {
  delta = first ? delta / kDamp : delta / 2;
  delta += delta / points;
  std::uint32_t k = 0;
  while (delta > ((kBase - kTMin) * kTMax) / 2) {
    delta /= kBase - kTMin;
    k += kBase;
  }
  return k + (kBase - kTMin + 1) * delta / (delta + kSkew);
}

// Appends the punycode form of `label` (without the "xn--" prefix); false on
// arithmetic overflow, which only absurdly long labels reach.
bool appendPunycode(const std::u32string& label, std::string& out) {
  std::uint32_t n = kInitialN;
  std::uint32_t delta = 0;
  std::uint32_t bias = kInitialBias;
  std::uint32_t basic = 0;
  for (char32_t c : label) {
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++basic;
    }
  }
  if (basic > 0) out += '-';
  std::uint32_t handled = basic;
  const auto total = static_cast<std::uint32_t>(label.size());
  while (handled < total) {
    std::uint32_t next = std::numeric_limits<std::uint32_t>::max();
    for (char32_t c : label)
      if (c >= n && c < next) next = c;
    const std::uint64_t step = std::uint64_t{next - n} * (handled + 1);
    if (step > std::numeric_limits<std::uint32_t>::max() - delta) return false;
    delta += static_cast<std::uint32_t>(step);
    n = next;
    for (char32_t c : label) {
      if (c < n && ++delta == 0) return false;
      if (c != n) continue;
      std::uint32_t q = delta;
      for (std::uint32_t k = kBase;; k += kBase) {
        const std::uint32_t t = k <= bias ? kTMin : (k >= bias + kTMax ? kTMax : k - bias);
        if (q < t) break;
        out += punycodeDigit(t + (q - t) % (kBase - t));
        q = (q - t) / (kBase - t);
      }
      out += punycodeDigit(q);
      bias = adaptBias(delta, handled + 1, handled == basic);
      delta = 0;
      ++handled;
    }
    ++delta;
    ++n;
  }
  return true;
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
std::optional<std::u32string> decodeUtf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    int extra;
    char32_t c;
    if (lead < 0x80) {
      c = lead;
      extra = 0;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      c = lead & 0x1F;
      extra = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      c = lead & 0x0F;
      extra = 2;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      c = lead & 0x07;
      extra = 3;
    } else {
      return std::nullopt;
    }
    if (text.size() - i <= static_cast<std::size_t>(extra)) return std::nullopt;  // truncated
    for (int k = 1; k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      if ((b & 0xC0) != 0x80) return std::nullopt;
      c = (c << 6) | (b & 0x3F);
    }
    static constexpr char32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (c < kSmallest[extra] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return std::nullopt;
    out += c;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

// What happens to one code point before encoding (a small part of UTS #46).
enum class Mapping { Keep, Ignore, Dot, Disallowed };

Mapping classify(char32_t c) {
  if (c < 0x80) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    return c == '.' ? Mapping::Dot : (ok ? Mapping::Keep : Mapping::Disallowed);
  }
  if (c == 0x3002 || c == 0xFF0E || c == 0xFF61) return Mapping::Dot;  // ideographic full stops
  if (c == 0x00AD || c == 0x200B || c == 0x2060 || c == 0xFEFF || (c >= 0xFE00 && c <= 0xFE0F))
    return Mapping::Ignore;  // soft hyphen, zero-width space, variation selectors
  const bool control = c <= 0xA0;                                     // C1 controls, no-break space
  const bool space = (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x3000;
  const bool nonCharacter = (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
  const bool privateUse = (c >= 0xE000 && c <= 0xF8FF) || c >= 0xF0000;
  if (control || space || nonCharacter || privateUse || c == 0xFFFD) return Mapping::Disallowed;
  return Mapping::Keep;
}

// Lower-cases ASCII and the common alphabets (Latin-1, Latin Extended-A,
// Greek, Cyrillic); other characters are kept as given.
void appendLowered(char32_t c, std::u32string& out) {
  if (c >= 'A' && c <= 'Z') return out.push_back(c + 0x20);
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
      (c >= 0x410 && c <= 0x42F))
    return out.push_back(c + 0x20);
  if (c >= 0x400 && c <= 0x40F) return out.push_back(c + 0x50);
  if (c == 0x130) {  // capital I with dot above: "i" + combining dot
    out.push_back('i');
    return out.push_back(0x307);
  }
  if (c == 0x178) return out.push_back(0xFF);
  if (c == 0x17F) return out.push_back('s');
  const bool evenUpper = (c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
  const bool oddUpper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
  if ((evenUpper && c % 2 == 0) || (oddUpper && c % 2 == 1)) return out.push_back(c + 1);
  out.push_back(c);
}

bool validAsciiLabel(std::string_view label) {
  return !label.empty() && label.size() <= kMaxLabelLength && label.front() != '-' &&
         label.back() != '-';
}

// The ASCII (ACE) form of `name` as Qt's QUrl::toAce gives it, or nothing if
// the name is not a valid host name.
std::optional<std::string> toAscii(std::string_view name) {
  const std::optional<std::u32string> decoded = decodeUtf8(name);
  if (!decoded) return std::nullopt;
  std::vector<std::u32string> labels(1);
  for (char32_t c : *decoded) {
    switch (classify(c)) {
      case Mapping::Disallowed:
        return std::nullopt;
      case Mapping::Keep:
        appendLowered(c, labels.back());
        break;
      case Mapping::Dot:
        labels.emplace_back();
        break;
      case Mapping::Ignore:
        break;
    }
  }
  // One trailing dot (an absolute name) is allowed; no other empty label.
  const bool absolute = labels.size() > 1 && labels.back().empty();
  if (absolute) labels.pop_back();
  std::string ascii;
  for (const std::u32string& label : labels) {
    const std::size_t start = ascii.size();
    const bool plain = std::all_of(label.begin(), label.end(), [](char32_t c) { return c < 0x80; });
    if (plain) {
      for (char32_t c : label) ascii += static_cast<char>(c);
    } else {
      if (label.size() > kMaxLabelLength * 2) return std::nullopt;
      ascii += "xn--";
      if (!appendPunycode(label, ascii)) return std::nullopt;
    }
    if (!validAsciiLabel(std::string_view(ascii).substr(start))) return std::nullopt;
    ascii += '.';
  }
  ascii.pop_back();
  if (ascii.size() > kMaxNameLength) return std::nullopt;
  if (absolute) ascii += '.';
  return ascii;
}

// ---------------------------------------------------------------- names

// A name either answered without DNS (empty, literal, invalid) or ready to
// be asked for in its ASCII form.
struct PreparedName {
  std::optional<HostInfo> answer;
  std::string ascii;
};

HostInfo notFound(std::string_view name, std::string_view why) {
  HostInfo info;
  info.setHostName(name);
  info.setError(HostInfo::HostNotFound);
  info.setErrorString(why);
  return info;
}

PreparedName prepare(std::string_view name) {
  PreparedName prepared;
  HostAddress literal;
  if (name.empty()) {
    prepared.answer = notFound(name, kNoHostNameGiven);
  } else if (literal.setAddress(name)) {
    HostInfo info;
    info.setHostName(literal.toString());
    info.setAddresses({literal});
    prepared.answer = std::move(info);
  } else if (std::optional<std::string> ascii = toAscii(name)) {
    prepared.ascii = std::move(*ascii);
  } else {
    prepared.answer = notFound(name, kInvalidHostname);
  }
  return prepared;
}

HostInfo infoFrom(int id, std::string_view name, detail::ResolveResult result) {
  HostInfo info(id);
  info.setHostName(name);
  info.setAddresses(std::move(result.addresses));
  if (result.error != HostInfo::NoError) {
    info.setError(result.error);
    info.setErrorString(result.errorString);
  }
  return info;
}

// ---------------------------------------------------------------- lookups

int nextLookupId() {
  static std::atomic<int> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

class LookupRecord;

// Lookups that can still be aborted, by id. Weak: a lookup that ends or is
// dropped leaves on its own.
struct Registry {
  std::mutex mutex;
  std::unordered_map<int, std::weak_ptr<LookupRecord>> lookups;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

// One asynchronous lookup: where its result goes, and whether anyone still
// wants it.
class LookupRecord final : public detail::ResolveRequest,
                           public std::enable_shared_from_this<LookupRecord> {
 public:
  LookupRecord(int id, std::string_view name, std::shared_ptr<detail::ObjectLife> receiver,
               HostInfo::Callback callback)
      : id_(id), name_(name), callback_(std::move(callback)) {
    if (receiver) {
      receiver_ = receiver;
      hasReceiver_ = true;
      poster_ = receiver->poster;
      thread_ = receiver->thread;
    } else {
      poster_ = detail::currentLoopPoster();
      thread_ = std::this_thread::get_id();
    }
  }

  ~LookupRecord() override {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.lookups.erase(id_);
  }

  LookupRecord(const LookupRecord&) = delete;
  LookupRecord& operator=(const LookupRecord&) = delete;

  bool isAbandoned() const override {
    return aborted_.load(std::memory_order_acquire) || (hasReceiver_ && receiver_.expired());
  }

  void finished(detail::ResolveResult result) override {
    deliver(infoFrom(id_, name_, std::move(result)));
  }

  // Hands the result to the receiver's thread; the callback runs from its
  // loop, never from the caller of this function.
  void deliver(HostInfo info) {
    poster_->post([self = shared_from_this(), info = std::move(info)] { self->run(info); });
  }

  void abort() { aborted_.store(true, std::memory_order_release); }
  bool runsOnCallingThread() const { return thread_ == std::this_thread::get_id(); }
  detail::Poster& poster() const { return *poster_; }
  int id() const { return id_; }

 private:
  void run(const HostInfo& info) {
    if (isAbandoned()) return;
    aborted_.store(true, std::memory_order_release);  // once only
    HostInfo::Callback callback = std::move(callback_);
    callback(info);
  }

  const int id_;
  const std::string name_;
  HostInfo::Callback callback_;
  std::weak_ptr<detail::ObjectLife> receiver_;
  bool hasReceiver_ = false;
  std::shared_ptr<detail::Poster> poster_;
  std::thread::id thread_;
  std::atomic<bool> aborted_{false};
};

}  // namespace

// ---------------------------------------------------------------- HostInfo

HostInfo::HostInfo(int lookupId) : errorString_("Unknown error"), lookupId_(lookupId) {}

void HostInfo::swap(HostInfo& other) noexcept {
  addresses_.swap(other.addresses_);
  hostName_.swap(other.hostName_);
  errorString_.swap(other.errorString_);
  std::swap(error_, other.error_);
  std::swap(lookupId_, other.lookupId_);
}

int HostInfo::lookupHost(std::string_view name, const Object* receiver, Callback callback) {
  const int id = nextLookupId();
  std::shared_ptr<detail::ObjectLife> life;
  if (receiver) {
    life = receiver->lifeToken().lock();
    if (!life) return id;  // the receiver is already gone: nothing to deliver to
  }
  auto record = std::make_shared<LookupRecord>(id, name, std::move(life), std::move(callback));
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.lookups.emplace(id, record);
  }

  PreparedName prepared = prepare(name);
  if (prepared.answer) {
    prepared.answer->setLookupId(id);
    record->deliver(std::move(*prepared.answer));
    return id;
  }
  // The lookup runs on the receiver's thread, driven by that thread's loop.
  if (record->runsOnCallingThread()) {
    detail::resolveAsync(prepared.ascii, record);
  } else {
    record->poster().post([record, ascii = std::move(prepared.ascii)] {
      if (!record->isAbandoned()) detail::resolveAsync(ascii, record);
    });
  }
  return id;
}

void HostInfo::abortHostLookup(int id) {
  std::shared_ptr<LookupRecord> record;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.lookups.find(id);
    if (it == r.lookups.end()) return;
    record = it->second.lock();
    r.lookups.erase(it);
  }
  if (!record) return;
  record->abort();
  // Stop the DNS work too when nothing else on that thread needs it.
  if (record->runsOnCallingThread()) detail::cancelAbandonedLookups();
  else record->poster().post([] { detail::cancelAbandonedLookups(); });
}

HostInfo HostInfo::fromName(std::string_view name) {
  PreparedName prepared = prepare(name);
  if (prepared.answer) return std::move(*prepared.answer);
  return infoFrom(-1, name, detail::resolveBlocking(prepared.ascii));
}

std::string HostInfo::localHostName() {
  char buffer[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return {};
  return buffer;
}

std::string HostInfo::localDomainName() {
  // res_ninit reads LOCALDOMAIN and resolv.conf the way every resolver on
  // this system does; the state is private to this call.
  struct __res_state state;
  std::memset(&state, 0, sizeof state);
  if (::res_ninit(&state) != 0) {
    ::res_nclose(&state);
    return {};
  }
  std::string domain = state.defdname;
  if (domain.empty() && state.dnsrch[0] != nullptr) domain = state.dnsrch[0];
  ::res_nclose(&state);
  return domain;
}

void HostInfo::setNameServers(std::vector<std::pair<HostAddress, std::uint16_t>> servers) {
  detail::setResolverServers(std::move(servers));
}

std::vector<std::pair<HostAddress, std::uint16_t>> HostInfo::nameServers() {
  return detail::resolverSettings().servers;
}

void HostInfo::setResolverTimeout(int timeoutMs, int tries) {
  detail::setResolverTimeouts(timeoutMs, tries);
}

// DnsLookup sends its names in the same form.
std::optional<std::string> detail::asciiHostName(std::string_view name) { return toAscii(name); }

}  // namespace tether
