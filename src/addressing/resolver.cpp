#include "addressing/resolver.h"

#include <ares.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "reactor/dispatcher.h"

namespace tether::detail {

namespace {

// ---------------------------------------------------------------- settings

struct SettingsStore {
  std::mutex mutex;
  ResolverSettings settings;
};

SettingsStore& settingsStore() {
  static SettingsStore store;
  return store;
}

void initLibrary() {
  // ares_library_init is not thread-safe in c-ares 1.18; it is never undone,
  // because other channels (ours on other threads, or the application's) may
  // outlive any point where cleanup would be safe.
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

std::string serversCsv(const std::vector<std::pair<HostAddress, std::uint16_t>>& servers) {
  std::string csv;
  for (const auto& [address, port] : servers) {
    const std::uint16_t p = port == 0 ? 53 : port;
    HostAddress plain = address;
    plain.setScopeId("");
    std::string entry;
    if (plain.protocol() == NetworkLayerProtocol::IPv4Protocol) {
      entry = plain.toString() + ':' + std::to_string(p);
    } else if (plain.protocol() == NetworkLayerProtocol::IPv6Protocol) {
      entry = '[' + plain.toString() + "]:" + std::to_string(p);
    } else {
      continue;  // Null or Any: no server to ask
    }
    if (!csv.empty()) csv += ',';
    csv += entry;
  }
  return csv;
}

// How a channel treats replies with the rcode SERVFAIL, NOTIMP or REFUSED.
enum class ErrorReplies {
  TryNextServer,  // c-ares's default: ask the next server, report a status
  Deliver,        // hand the reply to the caller (one server: nothing to try)
};

// Creates a channel with `settings`; `sockState` (may be null) receives the
// socket state changes. Returns an ARES_* status.
int createChannel(const ResolverSettings& settings, ares_sock_state_cb sockState, void* data,
                  ares_channel* out, ErrorReplies errorReplies = ErrorReplies::TryNextServer) {
  initLibrary();
  ares_options options{};
  int mask = 0;
  if (errorReplies == ErrorReplies::Deliver) {
    options.flags = ARES_FLAG_NOCHECKRESP;
    mask |= ARES_OPT_FLAGS;
  }
  if (sockState) {
    options.sock_state_cb = sockState;
    options.sock_state_cb_data = data;
    mask |= ARES_OPT_SOCK_STATE_CB;
  }
  if (settings.timeoutMs > 0) {
    options.timeout = settings.timeoutMs;
    mask |= ARES_OPT_TIMEOUTMS;
  }
  if (settings.tries > 0) {
    options.tries = settings.tries;
    mask |= ARES_OPT_TRIES;
  }
  int status = ares_init_options(out, &options, mask);
  if (status != ARES_SUCCESS) {
    *out = nullptr;
    return status;
  }
  const std::string csv = serversCsv(settings.servers);
  if (!csv.empty()) {
    status = ares_set_servers_ports_csv(*out, csv.c_str());
    if (status != ARES_SUCCESS) {
      ares_destroy(*out);
      *out = nullptr;
    }
  }
  return status;
}

// ---------------------------------------------------------------- results

// One place that turns a c-ares status into Qt's error and text, choosing
// what Qt reports for the getaddrinfo() error glibc gives in the same case.
ResolveResult failure(int status) {
  ResolveResult result;
  switch (status) {
    case ARES_ENOTFOUND:  // NXDOMAIN: EAI_NONAME
    case ARES_ENODATA:    // the name has no address: EAI_NODATA
    case ARES_ENONAME:
    case ARES_EBADNAME:
    case ARES_EFORMERR:  // non-recoverable answers: EAI_FAIL, which Qt
    case ARES_ENOTIMP:   // also reports as HostNotFound
    case ARES_EBADRESP:
      result.error = HostInfo::HostNotFound;
      result.errorString = "Host not found";
      break;
    case ARES_ETIMEOUT:  // nobody answered or servers failed: EAI_AGAIN
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED:
      result.error = HostInfo::UnknownError;
      result.errorString = ::gai_strerror(EAI_AGAIN);
      break;
    case ARES_ENOMEM:
      result.error = HostInfo::UnknownError;
      result.errorString = ::gai_strerror(EAI_MEMORY);
      break;
    default:
      result.error = HostInfo::UnknownError;
      result.errorString = ::ares_strerror(status);
      break;
  }
  return result;
}

HostAddress addressOf(const ares_addrinfo_node& node) {
  if (node.ai_family == AF_INET && node.ai_addrlen >= sizeof(sockaddr_in)) {
    return HostAddress(node.ai_addr);
  }
  if (node.ai_family == AF_INET6 && node.ai_addrlen >= sizeof(sockaddr_in6)) {
    HostAddress address(node.ai_addr);
    sockaddr_in6 sa6;
    std::memcpy(&sa6, node.ai_addr, sizeof sa6);
    // As Qt does: the scope as a number, not an interface name.
    if (sa6.sin6_scope_id != 0) address.setScopeId(std::to_string(sa6.sin6_scope_id));
    return address;
  }
  return HostAddress();
}

// Takes ownership of `info`.
ResolveResult resultOf(int status, ares_addrinfo* info) {
  ResolveResult result;
  if (status != ARES_SUCCESS) {
    result = failure(status);
  } else {
    for (const ares_addrinfo_node* node = info ? info->nodes : nullptr; node; node = node->ai_next) {
      HostAddress address = addressOf(*node);
      if (address.isNull()) continue;
      if (std::find(result.addresses.begin(), result.addresses.end(), address) ==
          result.addresses.end())
        result.addresses.push_back(std::move(address));
    }
    if (result.addresses.empty()) result = failure(ARES_ENODATA);
  }
  if (info) ares_freeaddrinfo(info);
  return result;
}

ares_addrinfo_hints lookupHints() {
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;  // A and AAAA; sorted by RFC 6724 like getaddrinfo
  return hints;
}

int millisecondsOf(const timeval& tv) {
  const long long ms = static_cast<long long>(tv.tv_sec) * 1000 + (tv.tv_usec + 999) / 1000;
  return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
}

// ---------------------------------------------------------------- channels on a loop

// A c-ares channel driven by a thread's Dispatcher.
class LoopChannel {
 public:
  LoopChannel(std::shared_ptr<Dispatcher> dispatcher, const ResolverSettings& settings,
              ErrorReplies errorReplies)
      : dispatcher_(std::move(dispatcher)), generation_(settings.generation) {
    status_ = createChannel(settings, &LoopChannel::sockStateThunk, this, &channel_, errorReplies);
    timer_.callback = [this] {
      const Busy busy(*this);
      ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      afterProcessing();
    };
  }

  ~LoopChannel() {
    if (channel_) {
      // Queries still running end as cancelled (their requests hear
      // nothing), which also closes their sockets while the watchers for
      // them are still here to be removed.
      cancel();
      ares_destroy(channel_);
    }
    dispatcher_->cancelTimer(&timer_);
    watchers_.clear();
    retired_.clear();
  }

  LoopChannel(const LoopChannel&) = delete;
  LoopChannel& operator=(const LoopChannel&) = delete;

  int status() const { return status_; }
  std::uint64_t generation() const { return generation_; }
  std::size_t pending() const { return pending_.size(); }
  // No query, and no c-ares call of this channel running: it may be destroyed.
  bool idle() const { return pending_.empty() && depth_ == 0; }

  bool allAbandoned() const {
    return std::all_of(pending_.begin(), pending_.end(),
                       [](const Query* q) { return q->isAbandoned(); });
  }

  void resolve(const std::string& name, std::shared_ptr<ResolveRequest> request) {
    const Busy busy(*this);
    retired_.clear();
    auto query = std::make_unique<AddrInfoQuery>(this, std::move(request));
    pending_.insert(query.get());
    const ares_addrinfo_hints hints = lookupHints();
    // The callback owns the query from here on; it may run inside this call.
    ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &LoopChannel::addrInfoThunk,
                     query.release());
    afterProcessing();
  }

  void query(const std::string& name, int type, std::shared_ptr<QueryRequest> request) {
    const Busy busy(*this);
    retired_.clear();
    auto query = std::make_unique<RecordQuery>(this, std::move(request));
    pending_.insert(query.get());
    // As with resolve(): the callback owns the query and may run at once.
    ares_query(channel_, name.c_str(), kClassIn, type, &LoopChannel::recordThunk, query.release());
    afterProcessing();
  }

  // Ends every query now; their requests hear nothing.
  void cancel() {
    if (pending_.empty()) return;
    const Busy busy(*this);
    cancelling_ = true;
    ares_cancel(channel_);
    cancelling_ = false;
    afterProcessing();
  }

 private:
  static constexpr int kClassIn = 1;

  // A query c-ares is working on; its callback argument, owned by the
  // callback once it runs.
  struct Query {
    explicit Query(LoopChannel* c) : channel(c) {}
    virtual ~Query() = default;
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    [[nodiscard]] virtual bool isAbandoned() const = 0;
    LoopChannel* channel;
  };

  struct AddrInfoQuery final : Query {
    AddrInfoQuery(LoopChannel* c, std::shared_ptr<ResolveRequest> r) : Query(c), request(std::move(r)) {}
    bool isAbandoned() const override { return request->isAbandoned(); }
    std::shared_ptr<ResolveRequest> request;
  };

  struct RecordQuery final : Query {
    RecordQuery(LoopChannel* c, std::shared_ptr<QueryRequest> r) : Query(c), request(std::move(r)) {}
    bool isAbandoned() const override { return request->isAbandoned(); }
    std::shared_ptr<QueryRequest> request;
  };

  // Marks the channel as inside c-ares for the length of a scope, so that
  // it is not destroyed under a callback that starts other lookups.
  class Busy {
   public:
    explicit Busy(LoopChannel& c) : channel_(c) { ++channel_.depth_; }
    ~Busy() { --channel_.depth_; }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

   private:
    LoopChannel& channel_;
  };

  // Takes the query back from c-ares; false when its request is to hear
  // nothing (the query was cancelled or the channel is going away).
  static bool takeBack(Query& query, int status) {
    LoopChannel& self = *query.channel;
    self.pending_.erase(&query);
    return !self.cancelling_ && status != ARES_ECANCELLED && status != ARES_EDESTRUCTION;
  }

  static void sockStateThunk(void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<LoopChannel*>(data)->sockState(fd, readable != 0, writable != 0);
  }

  static void addrInfoThunk(void* arg, int status, int /*timeouts*/, ares_addrinfo* info) {
    std::unique_ptr<AddrInfoQuery> query(static_cast<AddrInfoQuery*>(arg));
    if (!takeBack(*query, status)) {
      if (info) ares_freeaddrinfo(info);
      return;
    }
    query->request->finished(resultOf(status, info));
  }

  static void recordThunk(void* arg, int status, int /*timeouts*/, unsigned char* reply, int length) {
    std::unique_ptr<RecordQuery> query(static_cast<RecordQuery*>(arg));
    if (!takeBack(*query, status)) return;
    QueryResult result;
    result.status = status;
    if (reply && length > 0) result.reply.assign(reply, reply + length);
    query->request->finished(std::move(result));
  }

  void sockState(int fd, bool readable, bool writable) {
    auto it = watchers_.find(fd);
    if (!readable && !writable) {
      // c-ares is about to close fd. The watcher may be the one whose
      // callback is running, so it is only destroyed on the next step.
      if (it != watchers_.end()) {
        it->second->unwatch();
        retired_.push_back(std::move(it->second));
        watchers_.erase(it);
      }
      return;
    }
    if (it == watchers_.end()) {
      auto watcher = std::make_unique<FdWatch>(*this, fd);
      it = watchers_.emplace(fd, std::move(watcher)).first;
    }
    const std::uint32_t events =
        (readable ? std::uint32_t{EPOLLIN} : 0u) | (writable ? std::uint32_t{EPOLLOUT} : 0u);
    // Level-triggered: c-ares reads one datagram per call and expects to be
    // called again while data is waiting.
    it->second->watch(events, /*edgeTriggered=*/false);
  }

  void onSocketEvent(int fd, std::uint32_t events) {
    const Busy busy(*this);
    retired_.clear();  // the running watcher is live, so never among them
    const bool read = (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0;
    const bool write = (events & EPOLLOUT) != 0;
    ares_process_fd(channel_, read ? fd : ARES_SOCKET_BAD, write ? fd : ARES_SOCKET_BAD);
    afterProcessing();
  }

  // c-ares decides when its next retry or timeout is due; one timer follows it.
  void afterProcessing() {
    timeval tv{};
    if (!pending_.empty() && ares_timeout(channel_, nullptr, &tv) != nullptr) {
      dispatcher_->scheduleTimer(&timer_,
                                 Clock::now() + std::chrono::milliseconds(millisecondsOf(tv)));
    } else {
      dispatcher_->cancelTimer(&timer_);
    }
  }

  std::shared_ptr<Dispatcher> dispatcher_;  // outlives the channel's watchers and timer
  std::uint64_t generation_;
  int status_ = ARES_SUCCESS;
  ares_channel channel_ = nullptr;
  // One of c-ares's sockets: its events go to onSocketEvent().
  struct FdWatch final : WatchHandler {
    FdWatch(LoopChannel& channel, int fd) : owner(channel) { watcher.attach(*channel.dispatcher_, fd, this); }
    void watchEvents(std::uint32_t events) override { owner.onSocketEvent(watcher.fd(), events); }
    void unwatch() { watcher.unwatch(); }
    void watch(std::uint32_t events, bool edgeTriggered) { watcher.watch(events, edgeTriggered); }
    LoopChannel& owner;
    Watcher watcher;
  };
  std::unordered_map<int, std::unique_ptr<FdWatch>> watchers_;
  std::vector<std::unique_ptr<FdWatch>> retired_;
  TimerRecord timer_;
  std::unordered_set<Query*> pending_;
  bool cancelling_ = false;
  int depth_ = 0;
};

// The calling thread's lookups: the channel with the current settings, and
// older channels still finishing their queries.
class ThreadResolver {
 public:
  static ThreadResolver* ifExists() { return instance().get(); }
  static ThreadResolver& current() {
    auto& slot = instance();
    if (!slot) slot = std::make_unique<ThreadResolver>();
    return *slot;
  }

  ThreadResolver() : dispatcher_(Dispatcher::current()) {}
  ThreadResolver(const ThreadResolver&) = delete;
  ThreadResolver& operator=(const ThreadResolver&) = delete;

  void resolve(const std::string& name, std::shared_ptr<ResolveRequest> request) {
    int status = ARES_SUCCESS;
    if (LoopChannel* channel = addressChannel(status)) {
      channel->resolve(name, std::move(request));
    } else {
      request->finished(failure(status));
    }
  }

  void query(const std::string& name, int type, const std::optional<NameServer>& server,
             std::shared_ptr<QueryRequest> request) {
    int status = ARES_SUCCESS;
    if (LoopChannel* channel = recordChannel(server, status)) {
      channel->query(name, type, std::move(request));
    } else {
      request->finished(QueryResult{status, {}});
    }
  }

  void cancelAbandoned() {
    forEachChannel(*this, [](LoopChannel& channel) {
      if (channel.pending() > 0 && channel.allAbandoned()) channel.cancel();
    });
  }

  std::size_t pending() const {
    std::size_t n = 0;
    forEachChannel(*this, [&n](const LoopChannel& channel) { n += channel.pending(); });
    return n;
  }

 private:
  static std::unique_ptr<ThreadResolver>& instance() {
    thread_local std::unique_ptr<ThreadResolver> resolver;
    return resolver;
  }

  // The channel for address lookups: the default servers, which stand in
  // for each other when one fails (as getaddrinfo's do).
  LoopChannel* addressChannel(int& status) {
    return channelIn(active_, resolverSettings(), ErrorReplies::TryNextServer, status);
  }

  // The channel for record queries to `server`, or to the default servers
  // when there is none: every reply is delivered, so that a server's
  // SERVFAIL or REFUSED is reported as such.
  LoopChannel* recordChannel(const std::optional<NameServer>& server, int& status) {
    ResolverSettings settings = resolverSettings();
    std::string key = server ? serversCsv({*server}) : std::string();
    if (!key.empty()) settings.servers = {*server};
    return channelIn(recordChannels_[std::move(key)], settings, ErrorReplies::Deliver, status);
  }

  // The channel in `slot`, (re)made when missing or made with older
  // settings; null, with the c-ares status, when it cannot be made. Drops
  // channels nobody uses any more.
  LoopChannel* channelIn(std::unique_ptr<LoopChannel>& slot, const ResolverSettings& settings,
                         ErrorReplies errorReplies, int& status) {
    std::erase_if(retiring_, [](const auto& channel) { return channel->idle(); });
    std::erase_if(recordChannels_, [&slot](const auto& entry) {
      return &entry.second != &slot && (!entry.second || entry.second->idle());
    });
    if (!slot || slot->generation() != settings.generation) {
      if (slot && !slot->idle()) retiring_.push_back(std::move(slot));
      slot = std::make_unique<LoopChannel>(dispatcher_, settings, errorReplies);
    }
    if (slot->status() != ARES_SUCCESS) {
      status = slot->status();
      slot.reset();  // try again with the next lookup
      return nullptr;
    }
    return slot.get();
  }

  template <class Self, class F>
  static void forEachChannel(Self& self, F&& f) {
    if (self.active_) f(*self.active_);
    for (auto& entry : self.recordChannels_)
      if (entry.second) f(*entry.second);
    for (auto& channel : self.retiring_) f(*channel);
  }

  std::shared_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<LoopChannel> active_;  // address lookups
  // Record queries, by server ("": the default servers), while they are used.
  std::map<std::string, std::unique_ptr<LoopChannel>> recordChannels_;
  std::vector<std::unique_ptr<LoopChannel>> retiring_;  // outdated, still busy
};

// ---------------------------------------------------------------- blocking

struct BlockingState {
  bool done = false;
  ResolveResult result;
};

void blockingDone(void* arg, int status, int /*timeouts*/, ares_addrinfo* info) {
  auto* state = static_cast<BlockingState*>(arg);
  state->result = resultOf(status, info);
  state->done = true;
}

// Waits for the channel's sockets or its next timeout, then lets c-ares
// process what happened. Returns false when there is nothing to wait for.
bool pollOnce(ares_channel channel) {
  ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
  const int bits = ares_getsock(channel, sockets, ARES_GETSOCK_MAXNUM);
  pollfd fds[ARES_GETSOCK_MAXNUM];
  nfds_t count = 0;
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    short events = 0;
    if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
    if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
    if (events == 0) continue;
    fds[count++] = pollfd{sockets[i], events, 0};
  }
  timeval tv{};
  const timeval* next = ares_timeout(channel, nullptr, &tv);
  if (count == 0 && next == nullptr) return false;
  const int timeoutMs = next ? millisecondsOf(tv) : -1;
  const int ready = ::poll(fds, count, timeoutMs);
  if (ready <= 0) {
    // Timeout (or EINTR): let c-ares retry or give up on what is due.
    ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    return true;
  }
  for (nfds_t i = 0; i < count; ++i) {
    const short re = fds[i].revents;
    if (re == 0) continue;
    const bool read = (re & (POLLIN | POLLERR | POLLHUP)) != 0;
    const bool write = (re & POLLOUT) != 0;
    ares_process_fd(channel, read ? fds[i].fd : ARES_SOCKET_BAD,
                    write ? fds[i].fd : ARES_SOCKET_BAD);
  }
  return true;
}

}  // namespace

ResolverSettings resolverSettings() {
  auto& store = settingsStore();
  std::lock_guard lock(store.mutex);
  return store.settings;
}

void setResolverServers(std::vector<std::pair<HostAddress, std::uint16_t>> servers) {
  auto& store = settingsStore();
  std::lock_guard lock(store.mutex);
  store.settings.servers = std::move(servers);
  ++store.settings.generation;
}

void setResolverTimeouts(int timeoutMs, int tries) {
  auto& store = settingsStore();
  std::lock_guard lock(store.mutex);
  store.settings.timeoutMs = timeoutMs;
  store.settings.tries = tries;
  ++store.settings.generation;
}

void resolveAsync(const std::string& asciiName, std::shared_ptr<ResolveRequest> request) {
  ThreadResolver::current().resolve(asciiName, std::move(request));
}

void cancelAbandonedLookups() {
  if (ThreadResolver* resolver = ThreadResolver::ifExists()) resolver->cancelAbandoned();
}

void queryAsync(const std::string& asciiName, int type, const std::optional<NameServer>& server,
                std::shared_ptr<QueryRequest> request) {
  ThreadResolver::current().query(asciiName, type, server, std::move(request));
}

std::size_t pendingLookupCount() {
  const ThreadResolver* resolver = ThreadResolver::ifExists();
  return resolver ? resolver->pending() : 0;
}

ResolveResult resolveBlocking(const std::string& asciiName) {
  ares_channel channel = nullptr;
  const int status = createChannel(resolverSettings(), nullptr, nullptr, &channel);
  if (status != ARES_SUCCESS) return failure(status);
  BlockingState state;
  const ares_addrinfo_hints hints = lookupHints();
  ares_getaddrinfo(channel, asciiName.c_str(), nullptr, &hints, &blockingDone, &state);
  while (!state.done) {
    if (!pollOnce(channel)) {
      // c-ares has no socket and no timeout for a lookup it has not ended:
      // give up rather than wait forever.
      ares_cancel(channel);
      ares_destroy(channel);
      return failure(ARES_EBADQUERY);
    }
  }
  ares_destroy(channel);  // nothing pending: the lookup has ended
  return state.result;
}

}  // namespace tether::detail
