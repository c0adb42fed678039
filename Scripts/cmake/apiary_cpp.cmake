# Shared by the repository's C++ builds (Benchmarks/floor, SamplesComponents/cpp/
# file-secrets), included right after project(): C++17 without extensions, a Release
# build unless CMAKE_BUILD_TYPE says otherwise; gRPC++ and protobuf found through
# pkg-config (Debian's libgrpc++-dev ships .pc files; its CMake package needs more -dev
# packages than the library itself), protoc and grpc_cpp_plugin; and
# apiary_grpc_cpp_library().
#
# After include(): PkgConfig::GRPCPP, GRPCPP_LIBRARY_DIRS, PROTOBUF_INCLUDEDIR,
# PROTOC_EXECUTABLE and GRPC_CPP_PLUGIN_EXECUTABLE.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

find_package(PkgConfig REQUIRED)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++ protobuf)
pkg_get_variable(PROTOBUF_INCLUDEDIR protobuf includedir)
find_program(PROTOC_EXECUTABLE protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN_EXECUTABLE grpc_cpp_plugin REQUIRED)

# apiary_grpc_cpp_library(NAME PROTO_ROOT PROTO...): a static library NAME of the C++
# (messages and gRPC stubs) that protoc generates at build time from each PROTO (a path
# below PROTO_ROOT) into ${CMAKE_CURRENT_BINARY_DIR}/gen; nothing generated is kept in
# the source tree. It links gRPC++ and carries the generated headers as SYSTEM includes
# (so a target's -W flags are not applied to them).
function(apiary_grpc_cpp_library name proto_root)
  set(gen_dir "${CMAKE_CURRENT_BINARY_DIR}/gen")
  file(MAKE_DIRECTORY "${gen_dir}")
  set(gen_sources)
  set(proto_inputs)
  foreach(proto IN LISTS ARGN)
    string(REGEX REPLACE "\\.proto$" "" base "${proto}")
    list(APPEND gen_sources
      "${gen_dir}/${base}.pb.cc" "${gen_dir}/${base}.pb.h"
      "${gen_dir}/${base}.grpc.pb.cc" "${gen_dir}/${base}.grpc.pb.h")
    list(APPEND proto_inputs "${proto_root}/${proto}")
  endforeach()
  add_custom_command(
    OUTPUT ${gen_sources}
    COMMAND "${PROTOC_EXECUTABLE}"
            "-I${proto_root}" "-I${PROTOBUF_INCLUDEDIR}"
            "--cpp_out=${gen_dir}"
            "--grpc_out=${gen_dir}"
            "--plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN_EXECUTABLE}"
            ${ARGN}
    DEPENDS ${proto_inputs}
    WORKING_DIRECTORY "${proto_root}"
    COMMENT "Generating C++ from ${proto_root}"
    VERBATIM)
  add_library(${name} STATIC ${gen_sources})
  target_include_directories(${name} SYSTEM PUBLIC "${gen_dir}")
  target_link_libraries(${name} PUBLIC PkgConfig::GRPCPP)
endfunction()
