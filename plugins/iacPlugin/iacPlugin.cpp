/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The IFAN_IAC plugin and its creator. Every noexcept entry point validates its arguments,
 * catches, logs through TensorRT's logger and returns a failure value instead of throwing.
 */
#include "iacPlugin.h"
#include "iacKernel.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <sstream>

using namespace nvinfer1;

namespace ifan
{
namespace iac
{
namespace
{

constexpr int32_t kNB_INPUTS = 2; // features, filters
constexpr int32_t kNB_OUTPUTS = 1;
constexpr int32_t kFAILURE = -1;
constexpr int64_t kMAX_PLANES = 65535; // gridDim.y of the kernel

void logError(std::string const& where, std::string const& message) noexcept
{
    logMessage(ILogger::Severity::kERROR, std::string(kPLUGIN_NAME) + " " + where + ": " + message);
}

void logException(std::string const& where, std::exception const& e) noexcept
{
    logError(where, e.what());
}

std::string dimsToString(Dims const& dims)
{
    std::ostringstream s;
    s << "[";
    for (int32_t i = 0; i < dims.nbDims; ++i)
    {
        s << (i ? ", " : "") << dims.d[i];
    }
    s << "]";
    return s.str();
}

//! Why features of these dims (-1: unknown) exceed the kernel's grid (B*C planes in gridDim.y), or "".
std::string planeLimitError(Dims const& features)
{
    if (features.nbDims == 4 && features.d[0] >= 0 && features.d[1] >= 0
        && features.d[0] * features.d[1] > kMAX_PLANES)
    {
        return "batch x channels of " + dimsToString(features) + " exceeds " + std::to_string(kMAX_PLANES)
            + " (one CUDA grid row per plane); lower the profile's max batch";
    }
    return std::string();
}

bool isIntegerField(PluginFieldType type)
{
    return type == PluginFieldType::kINT32 || type == PluginFieldType::kINT64;
}

int64_t integerOf(PluginField const& field)
{
    if (field.type == PluginFieldType::kINT64)
    {
        return *static_cast<int64_t const*>(field.data);
    }
    return *static_cast<int32_t const*>(field.data);
}

//! Reads N, k, mode, layout, slope from ONNX attributes (build) or serialised fields (runtime).
//! Returns an error message, empty when the attributes are complete and valid.
std::string parseAttributes(PluginFieldCollection const* fc, Attributes& attributes)
{
    if (fc == nullptr || (fc->nbFields > 0 && fc->fields == nullptr))
    {
        return "no plugin fields given";
    }
    bool haveN = false;
    bool haveK = false;
    for (int32_t i = 0; i < fc->nbFields; ++i)
    {
        PluginField const& field = fc->fields[i];
        if (field.name == nullptr)
        {
            continue;
        }
        std::string const name(field.name);
        if (name == "plugin_version" || name == "plugin_namespace")
        {
            continue; // the ONNX parser's own attributes
        }
        bool const known = name == "N" || name == "k" || name == "mode" || name == "layout" || name == "slope";
        if (!known)
        {
            logMessage(ILogger::Severity::kWARNING,
                std::string(kPLUGIN_NAME) + ": ignoring unknown attribute '" + name + "'");
            continue;
        }
        if (field.data == nullptr || field.length < 1)
        {
            return "attribute '" + name + "' has no value";
        }
        if (name == "slope")
        {
            if (field.type == PluginFieldType::kFLOAT32)
            {
                attributes.slope = *static_cast<float const*>(field.data);
            }
            else if (field.type == PluginFieldType::kFLOAT64)
            {
                attributes.slope = static_cast<float>(*static_cast<double const*>(field.data));
            }
            else
            {
                return "attribute 'slope' must be a FLOAT (PluginFieldType kFLOAT32)";
            }
            continue;
        }
        if (!isIntegerField(field.type))
        {
            return "attribute '" + name + "' must be an INT (PluginFieldType kINT32)";
        }
        int64_t const value = integerOf(field);
        if (value < INT32_MIN || value > INT32_MAX)
        {
            return "attribute '" + name + "' is out of range";
        }
        int32_t const v = static_cast<int32_t>(value);
        if (name == "N")
        {
            attributes.N = v;
            haveN = true;
        }
        else if (name == "k")
        {
            attributes.k = v;
            haveK = true;
        }
        else if (name == "mode")
        {
            attributes.mode = v;
        }
        else
        {
            attributes.layout = v;
        }
    }
    if (!haveN || !haveK)
    {
        return "attributes 'N' and 'k' are required (the export writes N, k, mode, layout, slope)";
    }
    if (!std::isfinite(attributes.slope))
    {
        return "attribute 'slope' must be finite";
    }
    Problem const probe{1, 1, 1, 1, attributes.N, attributes.k, attributes.mode, attributes.layout, attributes.slope};
    char const* error = problemError(probe);
    return error == nullptr ? std::string() : std::string(error);
}

} // namespace

// ---- IacPlugin ----------------------------------------------------------------------------------

IacPlugin::IacPlugin(std::string layerName, Attributes const& attributes)
    : mLayerName(std::move(layerName))
    , mAttributes(attributes)
{
    buildFieldsToSerialize();
}

IacPlugin::IacPlugin(IacPlugin const& other)
    : IPluginV3(other)
    , IPluginV3OneCore(other)
    , IPluginV3OneBuild(other)
    , IPluginV3OneRuntime(other)
    , mLayerName(other.mLayerName)
    , mAttributes(other.mAttributes)
{
    buildFieldsToSerialize(); // the fields point at this object's members
}

void IacPlugin::buildFieldsToSerialize()
{
    // the same names and types the creator accepts at build time (INT -> kINT32, FLOAT -> kFLOAT32)
    mFields.clear();
    mFields.emplace_back("N", &mAttributes.N, PluginFieldType::kINT32, 1);
    mFields.emplace_back("k", &mAttributes.k, PluginFieldType::kINT32, 1);
    mFields.emplace_back("mode", &mAttributes.mode, PluginFieldType::kINT32, 1);
    mFields.emplace_back("layout", &mAttributes.layout, PluginFieldType::kINT32, 1);
    mFields.emplace_back("slope", &mAttributes.slope, PluginFieldType::kFLOAT32, 1);
    mFieldCollection.nbFields = static_cast<int32_t>(mFields.size());
    mFieldCollection.fields = mFields.data();
}

IPluginCapability* IacPlugin::getCapabilityInterface(PluginCapabilityType type) noexcept
{
    switch (type)
    {
    case PluginCapabilityType::kCORE: return static_cast<IPluginV3OneCore*>(this);
    case PluginCapabilityType::kBUILD: return static_cast<IPluginV3OneBuild*>(this);
    case PluginCapabilityType::kRUNTIME: return static_cast<IPluginV3OneRuntime*>(this);
    }
    return nullptr;
}

IPluginV3* IacPlugin::clone() noexcept
{
    try
    {
        return new IacPlugin(*this);
    }
    catch (std::exception const& e)
    {
        logException("clone", e);
    }
    return nullptr;
}

char const* IacPlugin::getPluginName() const noexcept
{
    return kPLUGIN_NAME;
}

char const* IacPlugin::getPluginVersion() const noexcept
{
    return kPLUGIN_VERSION;
}

char const* IacPlugin::getPluginNamespace() const noexcept
{
    return "";
}

int32_t IacPlugin::getNbOutputs() const noexcept
{
    return kNB_OUTPUTS;
}

int32_t IacPlugin::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes, int32_t nbInputs) const noexcept
{
    if (outputTypes == nullptr || inputTypes == nullptr || nbOutputs != kNB_OUTPUTS || nbInputs != kNB_INPUTS)
    {
        logError(mLayerName, "expects 2 inputs (features, filters) and 1 output");
        return kFAILURE;
    }
    if (inputTypes[0] != DataType::kFLOAT && inputTypes[0] != DataType::kHALF)
    {
        logError(mLayerName, "features must be FP32 or FP16");
        return kFAILURE;
    }
    if (inputTypes[1] != inputTypes[0])
    {
        logError(mLayerName, "features and filters must have the same type (both FP32 or both FP16)");
        return kFAILURE;
    }
    outputTypes[0] = inputTypes[0];
    return 0;
}

int32_t IacPlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* /*shapeInputs*/,
    int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs, IExprBuilder& /*exprBuilder*/) noexcept
{
    try
    {
        if (inputs == nullptr || outputs == nullptr || nbInputs != kNB_INPUTS || nbOutputs != kNB_OUTPUTS)
        {
            logError(mLayerName, "expects 2 inputs (features, filters) and 1 output");
            return kFAILURE;
        }
        if (inputs[0].nbDims != 4 || inputs[1].nbDims != 4)
        {
            logError(mLayerName, "features and filters must be 4-D (NCHW)");
            return kFAILURE;
        }
        // sizes known at build time are checked now; the rest in configurePlugin/onShapeChange
        IDimensionExpr const* c = inputs[0].d[1];
        IDimensionExpr const* cf = inputs[1].d[1];
        if (c->isConstant() && cf->isConstant())
        {
            int64_t const expected = filterChannels(mAttributes.N, static_cast<int32_t>(c->getConstantValue()),
                mAttributes.k, mAttributes.layout);
            if (cf->getConstantValue() != expected)
            {
                std::ostringstream s;
                s << "filters have " << cf->getConstantValue() << " channels; N=" << mAttributes.N
                  << ", c=" << c->getConstantValue() << ", k=" << mAttributes.k << " and layout "
                  << mAttributes.layout << " need " << expected;
                logError(mLayerName, s.str());
                return kFAILURE;
            }
        }
        outputs[0] = inputs[0];
        return 0;
    }
    catch (std::exception const& e)
    {
        logException(mLayerName, e);
    }
    return kFAILURE;
}

bool IacPlugin::supportsFormatCombination(
    int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
{
    if (inOut == nullptr || nbInputs != kNB_INPUTS || nbOutputs != kNB_OUTPUTS || pos < 0
        || pos >= kNB_INPUTS + kNB_OUTPUTS)
    {
        return false;
    }
    PluginTensorDesc const& desc = inOut[pos].desc;
    if (desc.format != TensorFormat::kLINEAR)
    {
        return false;
    }
    if (pos == 0)
    {
        return desc.type == DataType::kFLOAT || desc.type == DataType::kHALF;
    }
    return desc.type == inOut[0].desc.type; // filters and output: the features' type
}

std::string IacPlugin::problemFor(Dims const& features, Dims const& filters, Problem& problem) const
{
    if (features.nbDims != 4 || filters.nbDims != 4)
    {
        return "features and filters must be 4-D (NCHW), got " + dimsToString(features) + " and "
            + dimsToString(filters);
    }
    for (int32_t i = 0; i < 4; ++i)
    {
        if (features.d[i] > INT32_MAX || filters.d[i] > INT32_MAX)
        {
            return "dimension too large: " + dimsToString(features) + ", " + dimsToString(filters);
        }
    }
    problem = Problem{static_cast<int32_t>(features.d[0]), static_cast<int32_t>(features.d[1]),
        static_cast<int32_t>(features.d[2]), static_cast<int32_t>(features.d[3]), mAttributes.N, mAttributes.k,
        mAttributes.mode, mAttributes.layout, mAttributes.slope};
    // -1 marks a size unknown at build time: check what is known
    auto const mismatch = [](int64_t a, int64_t b) { return a >= 0 && b >= 0 && a != b; };
    if (mismatch(features.d[0], filters.d[0]) || mismatch(features.d[2], filters.d[2])
        || mismatch(features.d[3], filters.d[3]))
    {
        return "features " + dimsToString(features) + " and filters " + dimsToString(filters)
            + " must agree in batch, height and width";
    }
    std::string const limit = planeLimitError(features);
    if (!limit.empty())
    {
        return limit;
    }
    if (features.d[1] >= 0 && filters.d[1] >= 0)
    {
        int64_t const expected = filterChannels(problem.N, problem.C, problem.k, problem.layout);
        if (filters.d[1] != expected)
        {
            std::ostringstream s;
            s << "filters have " << filters.d[1] << " channels; N=" << problem.N << ", c=" << problem.C
              << ", k=" << problem.k << " and layout " << problem.layout << " need " << expected;
            return s.str();
        }
    }
    return std::string();
}

int32_t IacPlugin::configurePlugin(
    DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept
{
    try
    {
        if (in == nullptr || out == nullptr || nbInputs != kNB_INPUTS || nbOutputs != kNB_OUTPUTS)
        {
            logError(mLayerName, "expects 2 inputs (features, filters) and 1 output");
            return kFAILURE;
        }
        if (in[1].desc.type != in[0].desc.type || out[0].desc.type != in[0].desc.type)
        {
            logError(mLayerName, "features, filters and output must have one type");
            return kFAILURE;
        }
        Problem problem{};
        std::string const error = problemFor(in[0].desc.dims, in[1].desc.dims, problem);
        if (!error.empty())
        {
            logError(mLayerName, error);
            return kFAILURE;
        }
        // the profile's largest shape must fit the grid too: fail the build, not the first enqueue
        std::string const limit = planeLimitError(in[0].max);
        if (!limit.empty())
        {
            logError(mLayerName, limit);
            return kFAILURE;
        }
        return 0;
    }
    catch (std::exception const& e)
    {
        logException(mLayerName, e);
    }
    return kFAILURE;
}

size_t IacPlugin::getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
    DynamicPluginTensorDesc const* /*outputs*/, int32_t /*nbOutputs*/) const noexcept
{
    if (inputs == nullptr || nbInputs != kNB_INPUTS || inputs[0].max.nbDims != 4)
    {
        return 0;
    }
    // one feature map of the largest shape the profile allows
    Dims const& m = inputs[0].max;
    Problem const problem{static_cast<int32_t>(m.d[0]), static_cast<int32_t>(m.d[1]), static_cast<int32_t>(m.d[2]),
        static_cast<int32_t>(m.d[3]), mAttributes.N, mAttributes.k, mAttributes.mode, mAttributes.layout,
        mAttributes.slope};
    size_t const elemBytes = inputs[0].desc.type == DataType::kHALF ? 2 : 4;
    return workspaceBytes(problem, elemBytes);
}

int32_t IacPlugin::onShapeChange(
    PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* out, int32_t nbOutputs) noexcept
{
    try
    {
        if (in == nullptr || out == nullptr || nbInputs != kNB_INPUTS || nbOutputs != kNB_OUTPUTS)
        {
            logError(mLayerName, "expects 2 inputs (features, filters) and 1 output");
            return kFAILURE;
        }
        Problem problem{};
        std::string const error = problemFor(in[0].dims, in[1].dims, problem);
        if (!error.empty())
        {
            logError(mLayerName, error);
            return kFAILURE;
        }
        return 0;
    }
    catch (std::exception const& e)
    {
        logException(mLayerName, e);
    }
    return kFAILURE;
}

int32_t IacPlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* outputDesc,
    void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept
{
    try
    {
        if (inputDesc == nullptr || outputDesc == nullptr || inputs == nullptr || outputs == nullptr)
        {
            logError(mLayerName, "enqueue: null tensor descriptions or pointers");
            return kFAILURE;
        }
        Problem problem{};
        std::string const error = problemFor(inputDesc[0].dims, inputDesc[1].dims, problem);
        if (!error.empty())
        {
            logError(mLayerName, error);
            return kFAILURE;
        }
        // TensorRT gives at least getWorkspaceSize() for the profile's max shape, >= this shape's need
        DataType const type = inputDesc[0].type;
        cudaError_t status = cudaErrorInvalidValue;
        if (type == DataType::kFLOAT)
        {
            status = launchIac<float>(problem, static_cast<float const*>(inputs[0]),
                static_cast<float const*>(inputs[1]), static_cast<float*>(outputs[0]), workspace,
                workspaceBytes(problem, sizeof(float)), stream);
        }
        else if (type == DataType::kHALF)
        {
            status = launchIac<__half>(problem, static_cast<__half const*>(inputs[0]),
                static_cast<__half const*>(inputs[1]), static_cast<__half*>(outputs[0]), workspace,
                workspaceBytes(problem, sizeof(__half)), stream);
        }
        else
        {
            logError(mLayerName, "enqueue: unsupported type (FP32 and FP16 only)");
            return kFAILURE;
        }
        if (status != cudaSuccess)
        {
            logError(mLayerName, std::string("kernel launch failed: ") + cudaGetErrorName(status) + " ("
                    + cudaGetErrorString(status) + ")");
            return kFAILURE;
        }
        return 0;
    }
    catch (std::exception const& e)
    {
        logException(mLayerName, e);
    }
    return kFAILURE;
}

IPluginV3* IacPlugin::attachToContext(IPluginResourceContext* /*context*/) noexcept
{
    return clone(); // no per-context resources
}

PluginFieldCollection const* IacPlugin::getFieldsToSerialize() noexcept
{
    return &mFieldCollection;
}

// ---- IacPluginCreator ---------------------------------------------------------------------------

IacPluginCreator::IacPluginCreator()
{
    mFieldNames.emplace_back("N", nullptr, PluginFieldType::kINT32, 1);
    mFieldNames.emplace_back("k", nullptr, PluginFieldType::kINT32, 1);
    mFieldNames.emplace_back("mode", nullptr, PluginFieldType::kINT32, 1);
    mFieldNames.emplace_back("layout", nullptr, PluginFieldType::kINT32, 1);
    mFieldNames.emplace_back("slope", nullptr, PluginFieldType::kFLOAT32, 1);
    mFieldNameCollection.nbFields = static_cast<int32_t>(mFieldNames.size());
    mFieldNameCollection.fields = mFieldNames.data();
}

char const* IacPluginCreator::getPluginName() const noexcept
{
    return kPLUGIN_NAME;
}

char const* IacPluginCreator::getPluginVersion() const noexcept
{
    return kPLUGIN_VERSION;
}

char const* IacPluginCreator::getPluginNamespace() const noexcept
{
    return "";
}

PluginFieldCollection const* IacPluginCreator::getFieldNames() noexcept
{
    return &mFieldNameCollection;
}

IPluginV3* IacPluginCreator::createPlugin(char const* name, PluginFieldCollection const* fc, TensorRTPhase phase) noexcept
{
    try
    {
        // build phase: the ONNX node's attributes; runtime phase: getFieldsToSerialize() of the
        // built plugin. Both carry the same names and types, so one parser serves both.
        Attributes attributes;
        std::string const error = parseAttributes(fc, attributes);
        std::string const layer = name != nullptr ? name : "";
        if (!error.empty())
        {
            logError(layer, std::string(phase == TensorRTPhase::kBUILD ? "build" : "runtime")
                    + " phase: " + error);
            return nullptr;
        }
        return new IacPlugin(layer, attributes);
    }
    catch (std::exception const& e)
    {
        logException("createPlugin", e);
    }
    return nullptr;
}

} // namespace iac
} // namespace ifan
