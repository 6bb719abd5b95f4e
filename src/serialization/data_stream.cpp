// DataStream: the device, the status, numbers, raw bytes, size fields and
// transactions. Text, byte arrays and HostAddress are in
// data_stream_text.cpp; containers are templates in the header.
#include "tether/data_stream.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

#include "tether/buffer.h"

namespace tether {

namespace {

// QDataStream's size-field markers.
constexpr std::uint32_t kNullCode = 0xffffffffu;
constexpr std::uint32_t kExtendedSize = 0xfffffffeu;

}  // namespace

DataStream::DataStream() = default;

DataStream::DataStream(IODevice* device) : device_(device) {}

DataStream::DataStream(std::string* bytes, IODevice::OpenMode mode) : ownBuffer_(std::make_unique<Buffer>(bytes)) {
  ownBuffer_->open(mode);
  device_ = ownBuffer_.get();
}

DataStream::DataStream(std::string_view bytes) : ownBuffer_(std::make_unique<Buffer>()) {
  ownBuffer_->setData(bytes);
  ownBuffer_->open(IODevice::ReadOnly);
  device_ = ownBuffer_.get();
}

DataStream::~DataStream() = default;
DataStream::DataStream(DataStream&&) noexcept = default;
DataStream& DataStream::operator=(DataStream&&) noexcept = default;

void DataStream::setDevice(IODevice* device) {
  ownBuffer_.reset();
  device_ = device;
}

bool DataStream::atEnd() const { return device_ == nullptr || device_->atEnd(); }

void DataStream::setStatus(Status status) {
  if (status_ == Ok) status_ = status;
}

// ------------------------------------------------------------------ blocks

std::int64_t DataStream::readBlock(char* data, std::int64_t length) {
  // Inside a transaction, reading stops at the first error.
  if (status_ != Ok && device_->isTransactionStarted()) return -1;
  const std::int64_t got = device_->read(data, length);
  if (got != length) setStatus(ReadPastEnd);
  return got;
}

bool DataStream::writeBlock(const char* data, std::int64_t length) {
  if (!canWrite()) return false;
  if (device_->write(data, length) != length) {
    status_ = WriteFailed;
    return false;
  }
  return true;
}

// ----------------------------------------------------------------- numbers

DataStream& DataStream::writeInteger(std::uint64_t value, std::size_t width) {
  if (width == 8 && version_ < Qt_3_3) {
    // Two quint32s, the high half first.
    writeFixed(value >> 32, 4);
    writeFixed(value & 0xffffffffu, 4);
    return *this;
  }
  writeFixed(value, width);
  return *this;
}

void DataStream::readInteger(std::uint64_t& value, std::size_t width) {
  if (width == 8 && version_ < Qt_3_3) {
    // Qt reads the two halves back the other way round: the first quint32
    // becomes the low half. Kept, so that both read the same values.
    std::uint64_t first = 0;
    std::uint64_t second = 0;
    readFixed(first, 4);
    readFixed(second, 4);
    value = (second << 32) + first;
    return;
  }
  readFixed(value, width);
}

void DataStream::writeFixed(std::uint64_t value, std::size_t width) {
  std::array<char, 8> bytes{};
  for (std::size_t i = 0; i < width; ++i) {
    const std::size_t shift = 8 * (byteOrder_ == BigEndian ? width - 1 - i : i);
    bytes[i] = static_cast<char>((value >> shift) & 0xff);
  }
  writeBlock(bytes.data(), static_cast<std::int64_t>(width));
}

void DataStream::readFixed(std::uint64_t& value, std::size_t width) {
  value = 0;
  if (device_ == nullptr) return;
  std::array<unsigned char, 8> bytes{};
  const auto want = static_cast<std::int64_t>(width);
  if (readBlock(reinterpret_cast<char*>(bytes.data()), want) != want) return;
  for (std::size_t i = 0; i < width; ++i) {
    const std::size_t shift = 8 * (byteOrder_ == BigEndian ? width - 1 - i : i);
    value |= static_cast<std::uint64_t>(bytes[i]) << shift;
  }
}

DataStream& DataStream::operator>>(bool& value) {
  std::int8_t raw = 0;
  *this >> raw;
  value = raw != 0;
  return *this;
}

DataStream& DataStream::operator<<(float value) {
  if (version_ >= Qt_4_6 && precision_ == DoublePrecision) return *this << static_cast<double>(value);
  writeFixed(std::bit_cast<std::uint32_t>(value), 4);
  return *this;
}

DataStream& DataStream::operator>>(float& value) {
  if (version_ >= Qt_4_6 && precision_ == DoublePrecision) {
    double wide = 0;
    *this >> wide;
    value = static_cast<float>(wide);
    return *this;
  }
  std::uint64_t raw = 0;
  readFixed(raw, 4);
  value = std::bit_cast<float>(static_cast<std::uint32_t>(raw));
  return *this;
}

DataStream& DataStream::operator<<(double value) {
  if (version_ >= Qt_4_6 && precision_ == SinglePrecision) return *this << static_cast<float>(value);
  writeFixed(std::bit_cast<std::uint64_t>(value), 8);
  return *this;
}

DataStream& DataStream::operator>>(double& value) {
  if (version_ >= Qt_4_6 && precision_ == SinglePrecision) {
    float narrow = 0;
    *this >> narrow;
    value = narrow;
    return *this;
  }
  // Not readInteger(): the pre-Qt_3_3 rule is for integers only.
  std::uint64_t raw = 0;
  readFixed(raw, 8);
  value = std::bit_cast<double>(raw);
  return *this;
}

DataStream& DataStream::operator<<(const char* text) {
  const std::int64_t length = text != nullptr ? static_cast<std::int64_t>(std::strlen(text)) + 1 : 0;
  return writeBytes(text, length);
}

// --------------------------------------------------------------- raw bytes

std::int64_t DataStream::readSize() {
  std::uint32_t first = 0;
  *this >> first;
  if (first == kNullCode) return -1;
  if (first < kExtendedSize || version_ < Qt_6_7) return first;
  std::int64_t extended = 0;
  *this >> extended;
  return extended;
}

bool DataStream::writeSize(std::int64_t size) {
  if (size < static_cast<std::int64_t>(kExtendedSize)) {
    *this << static_cast<std::uint32_t>(size);  // -1 is the null marker
  } else if (version_ >= Qt_6_7) {
    *this << kExtendedSize << size;
  } else if (size == static_cast<std::int64_t>(kExtendedSize)) {
    *this << kExtendedSize;
  } else {
    setStatus(SizeLimitExceeded);
    return false;
  }
  return true;
}

DataStream& DataStream::writeBytes(const char* data, std::int64_t length) {
  if (length < 0) {
    status_ = WriteFailed;
    return *this;
  }
  if (!canWrite()) return *this;
  if (writeSize(length) && length > 0) writeRawData(data, length);
  return *this;
}

bool DataStream::readGrowing(std::string& out, std::int64_t length) {
  // A size field is a claim, not a fact: allocate for what the device holds
  // (at least 64 KiB) and grow by doubling while the bytes keep coming.
  constexpr std::int64_t kFirstStep = 64 * 1024;
  constexpr std::int64_t kMaxStep = std::numeric_limits<std::int64_t>::max() / 2;
  out.clear();
  std::int64_t step = std::max(device_->bytesAvailable(), kFirstStep);
  std::int64_t got = 0;
  while (got < length) {
    const std::int64_t block = std::min(step, length - got);
    out.resize(static_cast<std::size_t>(got + block));
    if (readBlock(out.data() + got, block) != block) {
      out.clear();
      out.shrink_to_fit();
      return false;
    }
    got += block;
    if (step <= kMaxStep) step *= 2;
  }
  return true;
}

DataStream& DataStream::readBytes(std::string& bytes) {
  bytes.clear();
  if (device_ == nullptr) return *this;
  const std::int64_t size = readSize();
  if (size == 0) return *this;
  if (size < 0) {
    setStatus(SizeLimitExceeded);
    return *this;
  }
  readGrowing(bytes, size);
  return *this;
}

DataStream& DataStream::readBytes(std::unique_ptr<char[]>& data, std::int64_t& length) {
  data.reset();
  length = 0;
  std::string bytes;
  readBytes(bytes);
  if (bytes.empty()) return *this;
  data = std::make_unique<char[]>(bytes.size() + 1);
  std::memcpy(data.get(), bytes.data(), bytes.size());
  data[bytes.size()] = '\0';
  length = static_cast<std::int64_t>(bytes.size());
  return *this;
}

std::int64_t DataStream::readRawData(char* data, std::int64_t length) {
  if (device_ == nullptr) return -1;
  return readBlock(data, length);
}

std::int64_t DataStream::writeRawData(const char* data, std::int64_t length) {
  if (!canWrite()) return -1;
  const std::int64_t written = device_->write(data, length);
  if (written != length) status_ = WriteFailed;
  return written;
}

std::int64_t DataStream::skipRawData(std::int64_t length) {
  if (device_ == nullptr) return -1;
  if (status_ != Ok && device_->isTransactionStarted()) return -1;
  const std::int64_t skipped = device_->skip(length);
  if (skipped != length) setStatus(ReadPastEnd);
  return skipped;
}

// ------------------------------------------------------------ transactions

void DataStream::startTransaction() {
  if (device_ == nullptr) return;
  if (++transactionDepth_ == 1) {
    device_->startTransaction();
    resetStatus();
  }
}

bool DataStream::commitTransaction() {
  if (transactionDepth_ == 0) return false;
  if (--transactionDepth_ == 0) {
    if (device_ == nullptr) return false;
    if (status_ == ReadPastEnd) {
      device_->rollbackTransaction();
      return false;
    }
    device_->commitTransaction();
  }
  return status_ == Ok;
}

void DataStream::rollbackTransaction() {
  setStatus(ReadPastEnd);
  if (transactionDepth_ == 0 || --transactionDepth_ != 0) return;
  if (device_ == nullptr) return;
  if (status_ == ReadPastEnd) {
    device_->rollbackTransaction();
  } else {
    device_->commitTransaction();
  }
}

void DataStream::abortTransaction() {
  status_ = ReadCorruptData;
  if (transactionDepth_ == 0 || --transactionDepth_ != 0) return;
  if (device_ == nullptr) return;
  device_->commitTransaction();
}

bool DataStream::isDeviceTransactionStarted() const {
  return device_ != nullptr && device_->isTransactionStarted();
}

// -------------------------------------------------------------- containers

namespace detail {

std::int64_t readContainerSize(DataStream& in) {
  const std::int64_t size = in.readSize();
  if (size < 0) {
    in.setStatus(DataStream::SizeLimitExceeded);
    return -1;
  }
  return size;
}

std::size_t safeReserve(DataStream& in, std::int64_t count, std::size_t elementSize) {
  const std::int64_t available = in.device() != nullptr ? in.device()->bytesAvailable() : 0;
  const auto fits = available / static_cast<std::int64_t>(std::max<std::size_t>(elementSize, 1));
  return static_cast<std::size_t>(std::max<std::int64_t>(std::min(count, fits), 0));
}

}  // namespace detail

}  // namespace tether
