// libFuzzer target for DataStream's reader: untrusted bytes must never
// crash, hang, leak or allocate what a size field claims (the test runs with
// -malloc_limit_mb), and every value read must survive a write and a second
// read unchanged.
//
// Input layout:
//   byte 0     format version (1 + byte % 23)
//   byte 1     flags: 1 little-endian, 2 single precision, 4 sequential
//              device (socket-like, delivered in small chunks), 8 start
//              with a transaction, 16 roll back at the end (else commit)
//   byte 2     number of operations (byte % 32)
//   ...        one byte per operation: what to read next (see run())
//   rest       the stream
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tether/data_stream.h"
#include "tether/host_address.h"

using namespace tether;

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

// A sequential device over memory that hands out at most `chunk` bytes a
// call: the shape of a socket that has received part of a message.
class TrickleDevice : public IODevice {
 public:
  TrickleDevice(std::string_view data, std::size_t chunk) : data_(data), chunk_(chunk) { open(ReadOnly); }
  bool isSequential() const override { return true; }
  std::int64_t bytesAvailable() const override {
    return IODevice::bytesAvailable() + static_cast<std::int64_t>(data_.size() - offset_);
  }

 protected:
  std::int64_t readData(char* out, std::int64_t maxSize) override {
    const std::size_t n = std::min({static_cast<std::size_t>(maxSize), chunk_, data_.size() - offset_});
    std::memcpy(out, data_.data() + offset_, n);
    offset_ += n;
    return static_cast<std::int64_t>(n);
  }
  std::int64_t writeData(const char*, std::int64_t) override { return -1; }

 private:
  std::string_view data_;
  std::size_t chunk_;
  std::size_t offset_ = 0;
};

struct Format {
  int version;
  DataStream::ByteOrder order;
  DataStream::FloatingPointPrecision precision;
};

// Writes `value` and reads it back with the same format: the result must
// equal `value` (the caller decides where the format can represent it).
template <class T, class Equal = std::equal_to<>>
void roundTrip(const T& value, const Format& f, Equal equal = {}) {
  std::string bytes;
  DataStream out(&bytes, IODevice::WriteOnly);
  out.setVersion(f.version);
  out.setByteOrder(f.order);
  out.setFloatingPointPrecision(f.precision);
  out << value;
  require(out.status() == DataStream::Ok);
  DataStream in(bytes);
  in.setVersion(f.version);
  in.setByteOrder(f.order);
  in.setFloatingPointPrecision(f.precision);
  T back{};
  in >> back;
  require(in.status() == DataStream::Ok);
  require(in.atEnd());
  require(equal(back, value));
}

bool sameAddress(const HostAddress& a, const HostAddress& b) {
  return a.protocol() == b.protocol() && a.toIPv6Address() == b.toIPv6Address() &&
         a.toIPv4Address() == b.toIPv4Address() && a.scopeId() == b.scopeId();
}

// Reads a T; when the read succeeded, checks that it writes and reads back.
template <class T>
void readAndCheck(DataStream& in, const Format& f, bool representable) {
  T value{};
  in >> value;
  if (in.status() == DataStream::Ok && representable) roundTrip(value, f);
}

void run(DataStream& in, const Format& f, std::string_view ops) {
  // A null byte array needs Qt_3_3, a null string Qt_2_1; Qt_1_0 strings
  // are Latin-1; 64-bit integers before Qt_3_3 come back swapped (as Qt).
  const bool nullBytes = f.version >= DataStream::Qt_3_3;
  const bool nullStrings = f.version >= DataStream::Qt_2_1 && f.version != DataStream::Qt_1_0;
  for (const char op : ops) {
    switch (static_cast<unsigned char>(op) % 32) {
      case 0: readAndCheck<std::int8_t>(in, f, true); break;
      case 1: readAndCheck<std::int16_t>(in, f, true); break;
      case 2: readAndCheck<std::uint32_t>(in, f, true); break;
      case 3: readAndCheck<std::int64_t>(in, f, f.version >= DataStream::Qt_3_3); break;
      case 4: {
        bool b = false;
        in >> b;
        break;
      }
      case 5: {
        float value = 0;
        in >> value;
        break;
      }
      case 6: {
        double value = 0;
        in >> value;
        break;
      }
      case 7: readAndCheck<NullableBytes>(in, f, nullBytes); break;
      case 8: readAndCheck<NullableString>(in, f, nullStrings); break;
      case 9: {
        std::string utf8;
        in >> asQString(utf8);
        if (in.status() == DataStream::Ok && f.version != DataStream::Qt_1_0) {
          std::string bytes;
          DataStream out(&bytes, IODevice::WriteOnly);
          out.setVersion(f.version);
          out << asQString(utf8);
          DataStream back(bytes);
          back.setVersion(f.version);
          std::string again;
          back >> asQString(again);
          require(again == utf8);
        }
        break;
      }
      case 10: {
        std::string bytes;
        in.readBytes(bytes);
        break;
      }
      case 11: {
        std::unique_ptr<char[]> bytes;
        std::int64_t length = 0;
        in.readBytes(bytes, length);
        require((bytes == nullptr) == (length == 0));
        break;
      }
      case 12: readAndCheck<std::vector<std::int32_t>>(in, f, true); break;
      case 13: readAndCheck<std::vector<NullableString>>(in, f, nullStrings); break;
      case 14: readAndCheck<std::map<std::int32_t, NullableString>>(in, f, nullStrings); break;
      case 15: readAndCheck<std::multimap<std::int8_t, std::int8_t>>(in, f, true); break;
      case 16: readAndCheck<std::unordered_map<std::int16_t, std::string>>(in, f, true); break;
      case 17: {
        std::unordered_multimap<std::int8_t, std::int8_t> value;
        in >> value;
        break;
      }
      case 18: readAndCheck<std::set<std::u16string>>(in, f, f.version != DataStream::Qt_1_0); break;
      case 19: readAndCheck<std::unordered_set<std::int32_t>>(in, f, true); break;
      case 20: readAndCheck<std::pair<std::int8_t, std::string>>(in, f, true); break;
      case 21: {
        HostAddress address;
        in >> address;
        if (in.status() == DataStream::Ok && nullStrings) roundTrip(address, f, sameAddress);
        break;
      }
      case 22: {
        char raw[8];
        const std::int64_t got = in.readRawData(raw, static_cast<unsigned char>(op) % 9);
        require(got <= 8);
        break;
      }
      case 23: in.skipRawData(static_cast<unsigned char>(op) % 7); break;
      case 24: in.readSize(); break;
      case 25: in.startTransaction(); break;
      case 26: in.commitTransaction(); break;
      case 27: in.rollbackTransaction(); break;
      case 28: in.abortTransaction(); break;
      case 29: in.resetStatus(); break;
      case 30: readAndCheck<std::list<std::deque<std::uint16_t>>>(in, f, true); break;
      default: {
        char16_t c16 = 0;
        char32_t c32 = 0;
        in >> c16 >> c32;
        break;
      }
    }
    require(in.status() >= DataStream::Ok && in.status() <= DataStream::SizeLimitExceeded);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const Format format{1 + data[0] % DataStream::Qt_DefaultCompiledVersion,
                      (data[1] & 1) ? DataStream::LittleEndian : DataStream::BigEndian,
                      (data[1] & 2) ? DataStream::SinglePrecision : DataStream::DoublePrecision};
  const std::size_t opCount = std::min<std::size_t>(data[2] % 32, size - 3);
  const std::string_view ops(reinterpret_cast<const char*>(data + 3), opCount);
  const std::string_view payload(reinterpret_cast<const char*>(data + 3 + opCount), size - 3 - opCount);

  std::unique_ptr<TrickleDevice> trickle;
  std::unique_ptr<DataStream> stream;
  if (data[1] & 4) {
    trickle = std::make_unique<TrickleDevice>(payload, 1 + data[0] % 5);
    stream = std::make_unique<DataStream>(trickle.get());
  } else {
    stream = std::make_unique<DataStream>(payload);
  }
  DataStream& in = *stream;
  in.setVersion(format.version);
  in.setByteOrder(format.order);
  in.setFloatingPointPrecision(format.precision);
  if (data[1] & 8) in.startTransaction();
  run(in, format, ops);
  if (data[1] & 8) {
    if (data[1] & 16) {
      in.rollbackTransaction();
    } else {
      in.commitTransaction();
    }
  }
  return 0;
}
