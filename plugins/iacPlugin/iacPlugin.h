/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * IFAN_IAC: the Iterative Adaptive Convolution of IFAN as a TensorRT IPluginV3 (TensorRT 10.x
 * and 11.x, one source built once per major version). See README.md for the contract.
 */
#ifndef IFAN_IAC_PLUGIN_H
#define IFAN_IAC_PLUGIN_H

#include <NvInferRuntime.h>

#include <string>
#include <vector>

#include "iacMath.h"

namespace ifan
{
namespace iac
{

constexpr char const* kPLUGIN_NAME = "IFAN_IAC";
constexpr char const* kPLUGIN_VERSION = "1";

//! The attributes of one IAC node (N, k, mode, layout, slope).
struct Attributes
{
    int32_t N{0};
    int32_t k{3};
    int32_t mode{kMODE_OFFICIAL};
    int32_t layout{kLAYOUT_FULL};
    float slope{0.1F};
};

//! Logs through the logger TensorRT handed to setLoggerFinder (nothing if there is none).
void logMessage(nvinfer1::ILogger::Severity severity, std::string const& message) noexcept;

class IacPlugin final : public nvinfer1::IPluginV3,
                        public nvinfer1::IPluginV3OneCore,
                        public nvinfer1::IPluginV3OneBuild,
                        public nvinfer1::IPluginV3OneRuntime
{
public:
    IacPlugin(std::string layerName, Attributes const& attributes);
    IacPlugin(IacPlugin const& other);
    IacPlugin& operator=(IacPlugin const&) = delete;
    ~IacPlugin() override = default;

    // IPluginV3
    nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override;
    nvinfer1::IPluginV3* clone() noexcept override;

    // IPluginV3OneCore
    char const* getPluginName() const noexcept override;
    char const* getPluginVersion() const noexcept override;
    char const* getPluginNamespace() const noexcept override;

    // IPluginV3OneBuild
    int32_t getNbOutputs() const noexcept override;
    int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
        nvinfer1::DataType const* inputTypes, int32_t nbInputs) const noexcept override;
    int32_t getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs,
        nvinfer1::DimsExprs const* shapeInputs, int32_t nbShapeInputs, nvinfer1::DimsExprs* outputs,
        int32_t nbOutputs, nvinfer1::IExprBuilder& exprBuilder) noexcept override;
    bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept override;
    int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept override;

    // IPluginV3OneRuntime
    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::PluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
        void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* context) noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    //! The problem for these input dimensions, or an error message (empty when fine).
    std::string problemFor(nvinfer1::Dims const& features, nvinfer1::Dims const& filters, Problem& problem) const;
    void buildFieldsToSerialize();

    std::string mLayerName;
    Attributes mAttributes;
    std::vector<nvinfer1::PluginField> mFields;
    nvinfer1::PluginFieldCollection mFieldCollection{};
};

class IacPluginCreator final : public nvinfer1::IPluginCreatorV3One
{
public:
    IacPluginCreator();
    ~IacPluginCreator() override = default;

    char const* getPluginName() const noexcept override;
    char const* getPluginVersion() const noexcept override;
    char const* getPluginNamespace() const noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override;
    nvinfer1::IPluginV3* createPlugin(
        char const* name, nvinfer1::PluginFieldCollection const* fc, nvinfer1::TensorRTPhase phase) noexcept override;

private:
    std::vector<nvinfer1::PluginField> mFieldNames;
    nvinfer1::PluginFieldCollection mFieldNameCollection{};
};

} // namespace iac
} // namespace ifan

#endif // IFAN_IAC_PLUGIN_H
