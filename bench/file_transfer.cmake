# The file-transfer benchmark (file_transfer.cpp): tether send/receive vs seed
# 003's Qt client and server vs a raw sendfile loop. Included from
# bench/CMakeLists.txt.
#
#   cmake --preset release && cmake --build --preset release
#   build/release/bench/file_transfer            # 1 GiB, 5 interleaved repetitions
#   build/release/bench/file_transfer --smoke    # 1 MiB once: checks that it runs
add_executable(file_transfer ${CMAKE_CURRENT_LIST_DIR}/file_transfer.cpp)
add_executable(file_transfer_raw ${CMAKE_CURRENT_LIST_DIR}/file_transfer_raw.cpp)
foreach(target file_transfer file_transfer_raw)
  target_link_libraries(${target} PRIVATE tether_warnings)
  target_compile_features(${target} PRIVATE cxx_std_20)
endforeach()
# The tether binary is found next to the bench directory (../tools/tether).
add_dependencies(file_transfer file_transfer_raw tether_cli)

# The Qt pair: the seed's client and server as the tool's interop tests build
# them (tests/tool/qt_seed_*.cpp), as plain Qt 5 programs.
find_package(Qt5 QUIET COMPONENTS Core Network)
if(Qt5_FOUND)
  foreach(peer sender receiver)
    add_executable(bench_qt_seed_${peer} ${PROJECT_SOURCE_DIR}/tests/tool/qt_seed_${peer}.cpp)
    target_link_libraries(bench_qt_seed_${peer} PRIVATE Qt5::Core Qt5::Network)
    set_target_properties(bench_qt_seed_${peer} PROPERTIES COMPILE_OPTIONS "" LINK_OPTIONS "" CXX_STANDARD 17
                                                           AUTOMOC OFF)
    add_dependencies(file_transfer bench_qt_seed_${peer})
  endforeach()
else()
  message(STATUS "bench: Qt 5 not found (qtbase5-dev); file_transfer runs without the Qt pair")
endif()

if(TETHER_BUILD_TESTS)
  add_test(NAME bench.file_transfer.smoke
           COMMAND file_transfer --smoke --dir ${CMAKE_CURRENT_BINARY_DIR}/file-transfer-smoke)
  set_tests_properties(bench.file_transfer.smoke PROPERTIES LABELS "bench;tool" TIMEOUT 60)
endif()
