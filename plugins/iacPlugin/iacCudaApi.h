/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * libifan_iac_cuda.so: the IAC kernels of the IFAN_IAC plugin behind a C ABI, no TensorRT.
 * For any CUDA program (and ctypes): device pointers, sizes and a stream in, the cudaError_t
 * of the launches out as an int (0 = cudaSuccess). No allocation, no synchronisation: the
 * N launches are queued on the stream and the call returns.
 *
 * Tensors are linear NCHW, all of one type (float, or IEEE half as uint16_t bits):
 *   features [B, C, H, W], filters [B, Cf, H, W] (Cf = N*C*(2k+1) full, N*C*(k+1) compact),
 *   out [B, C, H, W] (must not overlap the inputs), workspace of ifan_iac_workspace_bytes().
 * mode 0 official / 1 corrected; layout 0 full / 1 compact (official only); k odd, 1..7.
 * Invalid arguments return cudaErrorInvalidValue (1); B*C > 65535 cudaErrorInvalidConfiguration (9).
 */
#ifndef IFAN_IAC_CUDA_API_H
#define IFAN_IAC_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

#define IFAN_IAC_ABI_VERSION 1

#ifdef __cplusplus
extern "C"
{
#endif

/* IFAN_IAC_ABI_VERSION of the library: bumped when a signature or a meaning changes. */
int32_t ifan_iac_abi_version(void);

/* Bytes of workspace a call needs (0 when N <= 1 or a size is negative); elem_bytes 4 (float) or 2 (half). */
size_t ifan_iac_workspace_bytes(int32_t batch, int32_t channels, int32_t height, int32_t width,
    int32_t iterations, size_t elem_bytes);

/* All N iterations on stream (a cudaStream_t; NULL is the legacy default stream). */
int32_t ifan_iac_run_float(float const* features, float const* filters, float* out, void* workspace,
    size_t workspace_bytes, int32_t batch, int32_t channels, int32_t height, int32_t width, int32_t iterations,
    int32_t taps, int32_t mode, int32_t layout, float slope, void* stream);

int32_t ifan_iac_run_half(uint16_t const* features, uint16_t const* filters, uint16_t* out, void* workspace,
    size_t workspace_bytes, int32_t batch, int32_t channels, int32_t height, int32_t width, int32_t iterations,
    int32_t taps, int32_t mode, int32_t layout, float slope, void* stream);

/* cudaGetErrorName of a status these functions returned ("cudaErrorInvalidValue", ...). */
char const* ifan_iac_error_name(int32_t status);

#ifdef __cplusplus
}
#endif

#endif /* IFAN_IAC_CUDA_API_H */
