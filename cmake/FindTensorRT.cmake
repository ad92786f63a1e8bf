# SPDX-License-Identifier: Apache-2.0
#
# FindTensorRT: the TensorRT headers (required) and libnvinfer (optional: a plugin library does
# not link against it, it only implements TensorRT's interfaces).
#
# Hints:  TensorRT_ROOT (CMake or environment variable), or TensorRT_INCLUDE_DIR directly (e.g. the
#         include/ folder of the NVIDIA/TensorRT repository for a compile-only check).
# Result: TensorRT_FOUND, TensorRT_INCLUDE_DIR, TensorRT_VERSION, TensorRT_VERSION_MAJOR,
#         TensorRT_LIBRARY (may be NOTFOUND); imported targets TensorRT::headers and, with the
#         library, TensorRT::nvinfer.
# Searched: TensorRT_ROOT, then the Debian/Ubuntu and JetPack locations
#         (/usr/include/<arch>-linux-gnu, /usr/lib/<arch>-linux-gnu), /usr/local/tensorrt, /opt/tensorrt.

set(_trt_roots ${TensorRT_ROOT} $ENV{TensorRT_ROOT} /usr/local/tensorrt /opt/tensorrt /usr)
find_path(TensorRT_INCLUDE_DIR NvInferVersion.h
    HINTS ${_trt_roots}
    PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu
    DOC "Folder with NvInfer.h and NvInferVersion.h")
# versioned names too: pip's wheels (tensorrt_libs/) ship only libnvinfer.so.<major>
find_library(TensorRT_LIBRARY NAMES nvinfer libnvinfer.so.11 libnvinfer.so.10
    HINTS ${_trt_roots}
    PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu targets/x86_64-linux/lib
    DOC "libnvinfer (optional)")

if(TensorRT_INCLUDE_DIR AND EXISTS "${TensorRT_INCLUDE_DIR}/NvInferVersion.h")
    file(READ "${TensorRT_INCLUDE_DIR}/NvInferVersion.h" _trt_version_h)
    # TensorRT 10: "#define NV_TENSORRT_MAJOR 10"; 11: "#define TRT_MAJOR_ENTERPRISE 11" behind it
    foreach(_part MAJOR MINOR PATCH)
        string(REGEX MATCH "#define NV_TENSORRT_${_part} ([0-9]+)" _m "${_trt_version_h}")
        if(NOT _m)
            string(REGEX MATCH "#define TRT_${_part}_ENTERPRISE ([0-9]+)" _m "${_trt_version_h}")
        endif()
        set(TensorRT_VERSION_${_part} "${CMAKE_MATCH_1}")
    endforeach()
    set(TensorRT_VERSION "${TensorRT_VERSION_MAJOR}.${TensorRT_VERSION_MINOR}.${TensorRT_VERSION_PATCH}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(TensorRT
    REQUIRED_VARS TensorRT_INCLUDE_DIR TensorRT_VERSION_MAJOR
    VERSION_VAR TensorRT_VERSION
    REASON_FAILURE_MESSAGE "set -DTensorRT_ROOT=<TensorRT folder> (JetPack: apt install libnvinfer-dev) or -DTensorRT_INCLUDE_DIR=<folder with NvInfer.h>")

if(TensorRT_FOUND AND NOT TARGET TensorRT::headers)
    add_library(TensorRT::headers INTERFACE IMPORTED)
    set_target_properties(TensorRT::headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${TensorRT_INCLUDE_DIR}")
    if(TensorRT_LIBRARY)
        add_library(TensorRT::nvinfer UNKNOWN IMPORTED)
        set_target_properties(TensorRT::nvinfer PROPERTIES
            IMPORTED_LOCATION "${TensorRT_LIBRARY}"
            INTERFACE_INCLUDE_DIRECTORIES "${TensorRT_INCLUDE_DIR}")
    endif()
endif()
mark_as_advanced(TensorRT_INCLUDE_DIR TensorRT_LIBRARY)
