using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EDiffI.Textures;
using Silk.NET.Core;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace EDiffI.Plugins.VulkanTextures;

/// <summary>
/// The one Vulkan context the passes share: an instance (with the Khronos validation layer and a debug messenger
/// when asked for and installed), the chosen physical device, one compute queue, a command pool, a descriptor pool,
/// and the passes' pipelines, each created once on first use. Data lives in storage buffers: the shaders do their
/// own addressing (wrap or clamp) and sRGB decoding, the same arithmetic as the CPU reference, so no images or
/// samplers are needed. Not thread-safe: one job at a time.
/// </summary>
internal sealed unsafe class VulkanContext : IDisposable
{
    private const uint ApiVersion11 = (1u << 22) | (1u << 12);
    private const string ValidationLayer = "VK_LAYER_KHRONOS_validation";
    private const string DebugUtils = "VK_EXT_debug_utils";

    private readonly Dictionary<string, ComputePass> _passes = [];
    private readonly List<string> _validationMessages = [];
    private readonly GCHandle _self;
    private DebugUtilsMessengerEXT _messenger;

    public Vk Vk { get; }
    public Instance Instance { get; }
    public PhysicalDevice PhysicalDevice { get; }
    public Device Device { get; }
    public Queue Queue { get; }
    public uint QueueFamily { get; }
    public CommandPool CommandPool { get; }
    public DescriptorPool DescriptorPool { get; }
    public string DeviceName { get; }

    /// <summary>True when the validation layer is on and its errors fail each job.</summary>
    public bool ValidationActive { get; }

    private PhysicalDeviceMemoryProperties _memory;

    private VulkanContext(Vk vk, Instance instance, bool validation, PhysicalDevice physical, string name)
    {
        Vk = vk;
        Instance = instance;
        PhysicalDevice = physical;
        DeviceName = name;
        _self = GCHandle.Alloc(this);
        if (validation) ValidationActive = CreateMessenger();
        QueueFamily = FindComputeQueue(vk, physical);
        float priority = 1f;
        var queueInfo = new DeviceQueueCreateInfo { SType = StructureType.DeviceQueueCreateInfo, QueueFamilyIndex = QueueFamily, QueueCount = 1, PQueuePriorities = &priority };
        var deviceInfo = new DeviceCreateInfo { SType = StructureType.DeviceCreateInfo, QueueCreateInfoCount = 1, PQueueCreateInfos = &queueInfo };
        Device device;
        Check(vk.CreateDevice(physical, &deviceInfo, null, &device), "vkCreateDevice");
        Device = device;
        Queue queue;
        vk.GetDeviceQueue(device, QueueFamily, 0, &queue);
        Queue = queue;
        var poolInfo = new CommandPoolCreateInfo { SType = StructureType.CommandPoolCreateInfo, QueueFamilyIndex = QueueFamily, Flags = CommandPoolCreateFlags.ResetCommandBufferBit };
        CommandPool pool;
        Check(vk.CreateCommandPool(device, &poolInfo, null, &pool), "vkCreateCommandPool");
        CommandPool = pool;
        var size = new DescriptorPoolSize { Type = DescriptorType.StorageBuffer, DescriptorCount = 1024 };
        var dpInfo = new DescriptorPoolCreateInfo { SType = StructureType.DescriptorPoolCreateInfo, Flags = DescriptorPoolCreateFlags.FreeDescriptorSetBit, MaxSets = 256, PoolSizeCount = 1, PPoolSizes = &size };
        DescriptorPool dpool;
        Check(vk.CreateDescriptorPool(device, &dpInfo, null, &dpool), "vkCreateDescriptorPool");
        DescriptorPool = dpool;
        PhysicalDeviceMemoryProperties memory;
        vk.GetPhysicalDeviceMemoryProperties(physical, &memory);
        _memory = memory;
    }

    /// <summary>
    /// Opens a context on the device <paramref name="selector"/> names (index or part of the name), or on the first
    /// discrete GPU, else the first integrated GPU, else the first device.
    /// </summary>
    public static VulkanContext Open(string? selector, bool validation)
    {
        var (vk, instance, validationOn) = CreateInstance(validation);
        try
        {
            var devices = EnumerateDevices(vk, instance);
            if (devices.Count == 0)
                throw new TextureGpuUnavailableException("The Vulkan loader found no device: no Vulkan driver is installed (on Debian or Ubuntu: apt-get install mesa-vulkan-drivers for the CPU driver lavapipe, or your GPU vendor's driver).");
            int chosen = Choose(devices, selector);
            return new VulkanContext(vk, instance, validationOn, devices[chosen].Device, devices[chosen].Name);
        }
        catch
        {
            vk.DestroyInstance(instance, null);
            vk.Dispose();
            throw;
        }
    }

    /// <summary>The names of the devices the loader finds (with their type), or a reason there are none.</summary>
    public static IReadOnlyList<string> ListDevices(out string? problem)
    {
        try
        {
            var (vk, instance, _) = CreateInstance(false);
            try
            {
                var list = EnumerateDevices(vk, instance).Select(d => $"{d.Name} ({Describe(d.Type)})").ToList();
                problem = list.Count == 0 ? "the Vulkan loader found no device: no Vulkan driver is installed" : null;
                return list;
            }
            finally
            {
                vk.DestroyInstance(instance, null);
                vk.Dispose();
            }
        }
        catch (TextureGpuUnavailableException e)
        {
            problem = e.Message;
            return [];
        }
    }

    private static string Describe(PhysicalDeviceType type) => type switch
    {
        PhysicalDeviceType.DiscreteGpu => "discrete GPU",
        PhysicalDeviceType.IntegratedGpu => "integrated GPU",
        PhysicalDeviceType.VirtualGpu => "virtual GPU",
        PhysicalDeviceType.Cpu => "CPU",
        _ => "other",
    };

    private static int Choose(IReadOnlyList<(PhysicalDevice Device, string Name, PhysicalDeviceType Type)> devices, string? selector)
    {
        if (string.IsNullOrWhiteSpace(selector))
        {
            int discrete = devices.ToList().FindIndex(d => d.Type == PhysicalDeviceType.DiscreteGpu);
            if (discrete >= 0) return discrete;
            int integrated = devices.ToList().FindIndex(d => d.Type == PhysicalDeviceType.IntegratedGpu);
            return integrated >= 0 ? integrated : 0;
        }
        string names = string.Join("; ", devices.Select((d, i) => $"{i}: {d.Name}"));
        if (int.TryParse(selector, out int index))
        {
            if (index < 0 || index >= devices.Count) throw new TextureGpuUnavailableException($"There is no Vulkan device {index}; the devices are {names}.");
            return index;
        }
        int match = devices.ToList().FindIndex(d => d.Name.Contains(selector, StringComparison.OrdinalIgnoreCase));
        if (match < 0) throw new TextureGpuUnavailableException($"No Vulkan device's name contains '{selector}'; the devices are {names}.");
        return match;
    }

    private static (Vk Vk, Instance Instance, bool Validation) CreateInstance(bool validation)
    {
        Vk vk;
        try
        {
            vk = Vk.GetApi();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new TextureGpuUnavailableException("The Vulkan loader (libvulkan.so.1, vulkan-1.dll) is not installed, so no Vulkan driver can be used (on Debian or Ubuntu: apt-get install libvulkan1 mesa-vulkan-drivers).", e);
        }
        bool layer = validation && HasLayer(vk, ValidationLayer);
        bool debugUtils = layer && HasInstanceExtension(vk, DebugUtils);
        var app = (byte*)Marshal.StringToHGlobalAnsi("EDiffI texture path");
        var layerName = (byte*)Marshal.StringToHGlobalAnsi(ValidationLayer);
        var extName = (byte*)Marshal.StringToHGlobalAnsi(DebugUtils);
        try
        {
            var appInfo = new ApplicationInfo { SType = StructureType.ApplicationInfo, PApplicationName = app, ApiVersion = ApiVersion11 };
            var info = new InstanceCreateInfo
            {
                SType = StructureType.InstanceCreateInfo,
                PApplicationInfo = &appInfo,
                EnabledLayerCount = layer ? 1u : 0u,
                PpEnabledLayerNames = layer ? &layerName : null,
                EnabledExtensionCount = debugUtils ? 1u : 0u,
                PpEnabledExtensionNames = debugUtils ? &extName : null,
            };
            Instance instance;
            var result = vk.CreateInstance(&info, null, &instance);
            if (result == Result.ErrorIncompatibleDriver)
            {
                vk.Dispose();
                throw new TextureGpuUnavailableException("The Vulkan loader found no compatible driver (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER): install a Vulkan driver (apt-get install mesa-vulkan-drivers for lavapipe).");
            }
            if (result != Result.Success)
            {
                vk.Dispose();
                throw new TextureGpuUnavailableException($"vkCreateInstance failed with {result}.");
            }
            return (vk, instance, debugUtils);
        }
        finally
        {
            Marshal.FreeHGlobal((nint)app);
            Marshal.FreeHGlobal((nint)layerName);
            Marshal.FreeHGlobal((nint)extName);
        }
    }

    private static bool HasLayer(Vk vk, string name)
    {
        uint count = 0;
        vk.EnumerateInstanceLayerProperties(&count, null);
        var layers = new LayerProperties[count];
        fixed (LayerProperties* p = layers) vk.EnumerateInstanceLayerProperties(&count, p);
        foreach (var l in layers)
            if (Marshal.PtrToStringAnsi((nint)l.LayerName) == name) return true;
        return false;
    }

    private static bool HasInstanceExtension(Vk vk, string name)
    {
        uint count = 0;
        vk.EnumerateInstanceExtensionProperties((byte*)null, &count, null);
        var exts = new ExtensionProperties[count];
        fixed (ExtensionProperties* p = exts) vk.EnumerateInstanceExtensionProperties((byte*)null, &count, p);
        foreach (var e in exts)
            if (Marshal.PtrToStringAnsi((nint)e.ExtensionName) == name) return true;
        return false;
    }

    private static List<(PhysicalDevice Device, string Name, PhysicalDeviceType Type)> EnumerateDevices(Vk vk, Instance instance)
    {
        uint count = 0;
        var r = vk.EnumeratePhysicalDevices(instance, &count, null);
        if (r != Result.Success || count == 0) return [];
        var devices = new PhysicalDevice[count];
        fixed (PhysicalDevice* p = devices) vk.EnumeratePhysicalDevices(instance, &count, p);
        var list = new List<(PhysicalDevice, string, PhysicalDeviceType)>();
        foreach (var d in devices)
        {
            PhysicalDeviceProperties props;
            vk.GetPhysicalDeviceProperties(d, &props);
            list.Add((d, Marshal.PtrToStringAnsi((nint)props.DeviceName) ?? "unnamed", props.DeviceType));
        }
        return list;
    }

    private static uint FindComputeQueue(Vk vk, PhysicalDevice device)
    {
        uint count = 0;
        vk.GetPhysicalDeviceQueueFamilyProperties(device, &count, null);
        var families = new QueueFamilyProperties[count];
        fixed (QueueFamilyProperties* p = families) vk.GetPhysicalDeviceQueueFamilyProperties(device, &count, p);
        for (uint i = 0; i < count; i++)
            if ((families[i].QueueFlags & QueueFlags.ComputeBit) != 0) return i;
        throw new TextureGpuUnavailableException("The Vulkan device has no compute queue.");
    }

    // The debug messenger: validation errors and warnings are collected and fail the job that caused them.
    private bool CreateMessenger()
    {
        var create = (delegate* unmanaged[Cdecl]<Instance, DebugUtilsMessengerCreateInfoEXT*, AllocationCallbacks*, DebugUtilsMessengerEXT*, Result>)
            Vk.GetInstanceProcAddr(Instance, "vkCreateDebugUtilsMessengerEXT").Handle;
        if (create == null) return false;
        var info = new DebugUtilsMessengerCreateInfoEXT
        {
            SType = StructureType.DebugUtilsMessengerCreateInfoExt,
            MessageSeverity = DebugUtilsMessageSeverityFlagsEXT.ErrorBitExt | DebugUtilsMessageSeverityFlagsEXT.WarningBitExt,
            MessageType = DebugUtilsMessageTypeFlagsEXT.ValidationBitExt | DebugUtilsMessageTypeFlagsEXT.GeneralBitExt,
            PfnUserCallback = (PfnDebugUtilsMessengerCallbackEXT)(delegate* unmanaged[Cdecl]<DebugUtilsMessageSeverityFlagsEXT, DebugUtilsMessageTypeFlagsEXT, DebugUtilsMessengerCallbackDataEXT*, void*, Bool32>)&OnValidationMessage,
            PUserData = (void*)GCHandle.ToIntPtr(_self),
        };
        DebugUtilsMessengerEXT messenger;
        if (create(Instance, &info, null, &messenger) != Result.Success) return false;
        _messenger = messenger;
        return true;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static Bool32 OnValidationMessage(DebugUtilsMessageSeverityFlagsEXT severity, DebugUtilsMessageTypeFlagsEXT types, DebugUtilsMessengerCallbackDataEXT* data, void* user)
    {
        if (GCHandle.FromIntPtr((nint)user).Target is VulkanContext context)
        {
            string text = Marshal.PtrToStringAnsi((nint)data->PMessage) ?? "(no message)";
            lock (context._validationMessages) context._validationMessages.Add($"{severity}: {text}");
        }
        return false;
    }

    /// <summary>Throws when the validation layer reported anything since the last call.</summary>
    public void ThrowOnValidationMessages(string what)
    {
        lock (_validationMessages)
        {
            if (_validationMessages.Count == 0) return;
            string all = string.Join(Environment.NewLine, _validationMessages);
            _validationMessages.Clear();
            throw new InvalidOperationException($"Vulkan validation reported problems during {what}:{Environment.NewLine}{all}");
        }
    }

    /// <summary>The pass whose SPIR-V is the embedded resource spv/<paramref name="shader"/>.spv, created on first use.</summary>
    public ComputePass Pass(string shader, int bindings, int pushBytes)
    {
        if (!_passes.TryGetValue(shader, out var pass))
        {
            pass = ComputePass.Create(this, shader, bindings, pushBytes);
            _passes[shader] = pass;
        }
        return pass;
    }

    /// <summary>A buffer of <paramref name="bytes"/> in memory with <paramref name="properties"/>.</summary>
    public GpuBuffer CreateBuffer(ulong bytes, BufferUsageFlags usage, MemoryPropertyFlags properties)
    {
        var info = new BufferCreateInfo { SType = StructureType.BufferCreateInfo, Size = Math.Max(bytes, 16), Usage = usage, SharingMode = SharingMode.Exclusive };
        VkBuffer buffer;
        Check(Vk.CreateBuffer(Device, &info, null, &buffer), "vkCreateBuffer");
        MemoryRequirements req;
        Vk.GetBufferMemoryRequirements(Device, buffer, &req);
        var alloc = new MemoryAllocateInfo { SType = StructureType.MemoryAllocateInfo, AllocationSize = req.Size, MemoryTypeIndex = MemoryType(req.MemoryTypeBits, properties) };
        DeviceMemory memory;
        var r = Vk.AllocateMemory(Device, &alloc, null, &memory);
        if (r != Result.Success)
        {
            Vk.DestroyBuffer(Device, buffer, null);
            throw new InvalidOperationException($"vkAllocateMemory of {req.Size} bytes failed with {r}.");
        }
        Check(Vk.BindBufferMemory(Device, buffer, memory, 0), "vkBindBufferMemory");
        void* mapped = null;
        if ((properties & MemoryPropertyFlags.HostVisibleBit) != 0) Check(Vk.MapMemory(Device, memory, 0, Vk.WholeSize, 0, &mapped), "vkMapMemory");
        return new GpuBuffer(this, buffer, memory, bytes, mapped);
    }

    private uint MemoryType(uint allowed, MemoryPropertyFlags properties)
    {
        for (uint i = 0; i < _memory.MemoryTypeCount; i++)
            if ((allowed & (1u << (int)i)) != 0 && (_memory.MemoryTypes[(int)i].PropertyFlags & properties) == properties) return i;
        // Device-local is a preference: fall back to any allowed type.
        if ((properties & MemoryPropertyFlags.DeviceLocalBit) != 0) return MemoryType(allowed, properties & ~MemoryPropertyFlags.DeviceLocalBit);
        throw new InvalidOperationException($"The Vulkan device has no memory type with {properties}.");
    }

    public static void Check(Result result, string call)
    {
        if (result != Result.Success) throw new InvalidOperationException($"{call} failed with {result}.");
    }

    public void Dispose()
    {
        Vk.DeviceWaitIdle(Device);
        foreach (var pass in _passes.Values) pass.Dispose();
        _passes.Clear();
        Vk.DestroyDescriptorPool(Device, DescriptorPool, null);
        Vk.DestroyCommandPool(Device, CommandPool, null);
        Vk.DestroyDevice(Device, null);
        if (_messenger.Handle != 0)
        {
            var destroy = (delegate* unmanaged[Cdecl]<Instance, DebugUtilsMessengerEXT, AllocationCallbacks*, void>)
                Vk.GetInstanceProcAddr(Instance, "vkDestroyDebugUtilsMessengerEXT").Handle;
            if (destroy != null) destroy(Instance, _messenger, null);
        }
        Vk.DestroyInstance(Instance, null);
        Vk.Dispose();
        _self.Free();
    }
}

/// <summary>A buffer and its memory, mapped when host-visible.</summary>
internal sealed unsafe class GpuBuffer(VulkanContext context, VkBuffer buffer, DeviceMemory memory, ulong size, void* mapped) : IDisposable
{
    public VkBuffer Buffer { get; } = buffer;
    public ulong Size { get; } = size;
    public void* Mapped { get; } = mapped;

    public void Dispose()
    {
        if (Mapped != null) context.Vk.UnmapMemory(context.Device, memory);
        context.Vk.DestroyBuffer(context.Device, Buffer, null);
        context.Vk.FreeMemory(context.Device, memory, null);
    }
}
