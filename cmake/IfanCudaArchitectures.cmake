# SPDX-License-Identifier: Apache-2.0
#
# ifan_default_cuda_architectures(<nvcc --list-gpu-arch output> <result variable>)
#
# The default CUDA architectures of the IAC kernels: a real image (SASS) for each wanted
# architecture this nvcc lists, plus the PTX of the OLDEST of them, which the driver JIT-compiles
# on any GPU newer than every real image (so nothing is left without code).
#   Jetson: 87 Orin (JetPack 6), 110 Thor (JetPack 7). Xavier (72) is not wanted: TensorRT 10
#   does not support it (JetPack 5 ships TensorRT 8.5).
#   Desktop/datacenter: 75 Turing, 80 A100, 86 Ampere, 89 Ada, 90 Hopper, 100/103 Blackwell
#   datacenter, 120 Blackwell desktop.
# Kept in a function of its own so that a test can feed it another nvcc's list (cmake -P).
set(IFAN_WANTED_CUDA_ARCHITECTURES 75 80 86 87 89 90 100 103 110 120)

function(ifan_default_cuda_architectures nvcc_list result)
    set(_archs "")
    set(_oldest "")
    foreach(_a IN LISTS IFAN_WANTED_CUDA_ARCHITECTURES)
        if(nvcc_list MATCHES "compute_${_a}([^0-9]|$)")
            list(APPEND _archs "${_a}-real")
            if(_oldest STREQUAL "" OR _a LESS _oldest)
                set(_oldest ${_a})
            endif()
        endif()
    endforeach()
    if(_oldest STREQUAL "")
        message(FATAL_ERROR "nvcc lists none of the architectures ${IFAN_WANTED_CUDA_ARCHITECTURES}: "
            "set -DCMAKE_CUDA_ARCHITECTURES=<list> for this toolkit")
    endif()
    list(APPEND _archs "${_oldest}-virtual")
    set(${result} "${_archs}" PARENT_SCOPE)
endfunction()
