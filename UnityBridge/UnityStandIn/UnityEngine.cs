// STAND-IN, NOT UNITY: declarations only (see UnityStandIn.csproj). Follows Unity-Technologies/
// UnityCsReference at tag 2021.3.58f1: each type below carries the members the package calls, with
// the whole overload set of each member as that tag declares it (Unity's [DefaultValue] parameters
// are not C# optional parameters: they come with separate shorter overloads, as here). Every other
// public type name of the namespace is in Generated/TypeNames.g.cs. No body does anything.
#nullable disable
using System;

namespace UnityEngine
{
    internal static class StandIn
    {
        public static Exception Fail() => new NotSupportedException("This is the compile-only Unity stand-in, not Unity.");
    }

    public partial class Object
    {
        public string name { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public static void DestroyImmediate(Object obj, bool allowDestroyingAssets) => throw StandIn.Fail();
        public static void DestroyImmediate(Object obj) => throw StandIn.Fail();
        public static implicit operator bool(Object exists) => throw StandIn.Fail();
        public static bool operator ==(Object x, Object y) => throw StandIn.Fail();
        public static bool operator !=(Object x, Object y) => throw StandIn.Fail();
        public override bool Equals(object other) => throw StandIn.Fail();
        public override int GetHashCode() => throw StandIn.Fail();
    }

    public class ScriptableObject : Object { }

    public partial class Texture : Object
    {
        public virtual int width { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public virtual int height { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public virtual bool isReadable => throw StandIn.Fail();
    }

    public sealed partial class Texture2D : Texture
    {
        public Texture2D(int width, int height, Experimental.Rendering.DefaultFormat format, Experimental.Rendering.TextureCreationFlags flags) => throw StandIn.Fail();
        public Texture2D(int width, int height, Experimental.Rendering.GraphicsFormat format, Experimental.Rendering.TextureCreationFlags flags) => throw StandIn.Fail();
        public Texture2D(int width, int height, Experimental.Rendering.GraphicsFormat format, int mipCount, Experimental.Rendering.TextureCreationFlags flags) => throw StandIn.Fail();
        public Texture2D(int width, int height, TextureFormat textureFormat, int mipCount, bool linear) => throw StandIn.Fail();
        public Texture2D(int width, int height, TextureFormat textureFormat, bool mipChain, bool linear) => throw StandIn.Fail();
        public Texture2D(int width, int height, TextureFormat textureFormat, bool mipChain) => throw StandIn.Fail();
        public Texture2D(int width, int height) => throw StandIn.Fail();
        public override bool isReadable => throw StandIn.Fail();
        public void LoadRawTextureData(IntPtr data, int size) => throw StandIn.Fail();
        public void LoadRawTextureData(byte[] data) => throw StandIn.Fail();
        public void LoadRawTextureData<T>(Unity.Collections.NativeArray<T> data) where T : struct => throw StandIn.Fail();
        public void Apply(bool updateMipmaps, bool makeNoLongerReadable) => throw StandIn.Fail();
        public void Apply(bool updateMipmaps) => throw StandIn.Fail();
        public void Apply() => throw StandIn.Fail();
        public Color32[] GetPixels32(int miplevel) => throw StandIn.Fail();
        public Color32[] GetPixels32() => throw StandIn.Fail();
        public void SetPixels32(Color32[] colors, int miplevel) => throw StandIn.Fail();
        public void SetPixels32(Color32[] colors) => throw StandIn.Fail();
        public void SetPixels32(int x, int y, int blockWidth, int blockHeight, Color32[] colors, int miplevel) => throw StandIn.Fail();
        public void SetPixels32(int x, int y, int blockWidth, int blockHeight, Color32[] colors) => throw StandIn.Fail();
    }

    public static class ImageConversion
    {
        public static byte[] EncodeToPNG(this Texture2D tex) => throw StandIn.Fail();
        public static bool LoadImage(this Texture2D tex, byte[] data, bool markNonReadable) => throw StandIn.Fail();
        public static bool LoadImage(this Texture2D tex, byte[] data) => throw StandIn.Fail();
    }

    public sealed partial class Shader : Object
    {
        public static Shader Find(string name) => throw StandIn.Fail();
    }

    public partial class Material : Object
    {
        public Material(Shader shader) => throw StandIn.Fail();
        public Material(Material source) => throw StandIn.Fail();
        public Material(string contents) => throw StandIn.Fail();
        public bool HasProperty(int nameID) => throw StandIn.Fail();
        public bool HasProperty(string name) => throw StandIn.Fail();
        public void EnableKeyword(string keyword) => throw StandIn.Fail();
        public void EnableKeyword(in Rendering.LocalKeyword keyword) => throw StandIn.Fail();
        public void SetFloat(string name, float value) => throw StandIn.Fail();
        public void SetFloat(int nameID, float value) => throw StandIn.Fail();
        public void SetTexture(string name, Texture value) => throw StandIn.Fail();
        public void SetTexture(int nameID, Texture value) => throw StandIn.Fail();
        public void SetTexture(string name, RenderTexture value, Rendering.RenderTextureSubElement element) => throw StandIn.Fail();
        public void SetTexture(int nameID, RenderTexture value, Rendering.RenderTextureSubElement element) => throw StandIn.Fail();
    }

    public partial class Component : Object { }

    public partial class Renderer : Component
    {
        public Material sharedMaterial { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
    }

    public sealed partial class GameObject : Object
    {
        public T GetComponent<T>() => throw StandIn.Fail();
        public Component GetComponent(Type type) => throw StandIn.Fail();
        public Component GetComponent(string type) => throw StandIn.Fail();
    }

    // The members the package names, with their values; the rest of each enum is left out.
    public enum TextureFormat { RGBA32 = 4 }

    public enum TextureWrapMode { Repeat = 0, Clamp = 1, Mirror = 2, MirrorOnce = 3 }

    public enum ScaleMode { StretchToFill = 0, ScaleAndCrop = 1, ScaleToFit = 2 }

    public enum EventType { MouseDown = 0, MouseUp = 1, MouseMove = 2, MouseDrag = 3 }

    public struct Color
    {
        public float r, g, b, a;
        public Color(float r, float g, float b, float a) => throw StandIn.Fail();
        public Color(float r, float g, float b) => throw StandIn.Fail();
        public static implicit operator Vector4(Color c) => throw StandIn.Fail();
        public static implicit operator Color(Vector4 v) => throw StandIn.Fail();
    }

    public partial struct Color32
    {
        public byte r, g, b, a;
        public Color32(byte r, byte g, byte b, byte a) => throw StandIn.Fail();
        public static implicit operator Color32(Color c) => throw StandIn.Fail();
        public static implicit operator Color(Color32 c) => throw StandIn.Fail();
    }

    public struct Vector2
    {
        public float x, y;
    }

    public partial struct Rect
    {
        public float x { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public float y { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public float width { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public float height { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public bool Contains(Vector2 point) => throw StandIn.Fail();
        public bool Contains(Vector3 point) => throw StandIn.Fail();
        public bool Contains(Vector3 point, bool allowInverse) => throw StandIn.Fail();
    }

    public sealed partial class Event
    {
        public static Event current { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public EventType type { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public Vector2 mousePosition { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public void Use() => throw StandIn.Fail();
    }

    public sealed class GUILayoutOption { }

    public partial class GUI
    {
        public static bool enabled { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public static void DrawTexture(Rect position, Texture image) => throw StandIn.Fail();
        public static void DrawTexture(Rect position, Texture image, ScaleMode scaleMode) => throw StandIn.Fail();
        public static void DrawTexture(Rect position, Texture image, ScaleMode scaleMode, bool alphaBlend) => throw StandIn.Fail();
        public static void DrawTexture(Rect position, Texture image, ScaleMode scaleMode, bool alphaBlend, float imageAspect) => throw StandIn.Fail();
        public static void DrawTexture(Rect position, Texture image, ScaleMode scaleMode, bool alphaBlend, float imageAspect, Color color, float borderWidth, float borderRadius) => throw StandIn.Fail();
        public static void DrawTexture(Rect position, Texture image, ScaleMode scaleMode, bool alphaBlend, float imageAspect, Color color, Vector4 borderWidths, float borderRadius) => throw StandIn.Fail();
        public static void DrawTexture(Rect position, Texture image, ScaleMode scaleMode, bool alphaBlend, float imageAspect, Color color, Vector4 borderWidths, Vector4 borderRadiuses) => throw StandIn.Fail();
    }

    public partial class GUILayout
    {
        public static bool Button(Texture image, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Button(string text, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Button(GUIContent content, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Button(Texture image, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Button(string text, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Button(GUIContent content, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void BeginHorizontal(params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void BeginHorizontal(GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void BeginHorizontal(string text, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void BeginHorizontal(Texture image, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void BeginHorizontal(GUIContent content, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void EndHorizontal() => throw StandIn.Fail();
        public static GUILayoutOption Width(float width) => throw StandIn.Fail();
        public static GUILayoutOption Height(float height) => throw StandIn.Fail();
    }

    public partial class GUILayoutUtility
    {
        public static Rect GetRect(GUIContent content, GUIStyle style) => throw StandIn.Fail();
        public static Rect GetRect(GUIContent content, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Rect GetRect(float width, float height) => throw StandIn.Fail();
        public static Rect GetRect(float width, float height, GUIStyle style) => throw StandIn.Fail();
        public static Rect GetRect(float width, float height, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Rect GetRect(float width, float height, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Rect GetRect(float minWidth, float maxWidth, float minHeight, float maxHeight) => throw StandIn.Fail();
        public static Rect GetRect(float minWidth, float maxWidth, float minHeight, float maxHeight, GUIStyle style) => throw StandIn.Fail();
        public static Rect GetRect(float minWidth, float maxWidth, float minHeight, float maxHeight, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Rect GetRect(float minWidth, float maxWidth, float minHeight, float maxHeight, GUIStyle style, params GUILayoutOption[] options) => throw StandIn.Fail();
    }

    public sealed class Application
    {
        public static string dataPath => throw StandIn.Fail();
    }

    public partial class Debug
    {
        public static void LogException(Exception exception) => throw StandIn.Fail();
        public static void LogException(Exception exception, Object context) => throw StandIn.Fail();
        public static void LogWarning(object message) => throw StandIn.Fail();
        public static void LogWarning(object message, Object context) => throw StandIn.Fail();
    }

    public sealed partial class SerializeField : Attribute { }
}

namespace UnityEngine.Rendering
{
    public sealed partial class GraphicsSettings : Object
    {
        public static RenderPipelineAsset currentRenderPipeline => throw StandIn.Fail();
    }

    public abstract class RenderPipelineAsset : ScriptableObject { }

    // Named by Material's overloads; their members are left out.
    public readonly struct LocalKeyword { }

    public enum RenderTextureSubElement { Color = 0, Depth = 1, Stencil = 2, Default = 3 }
}

namespace UnityEngine.Experimental.Rendering
{
    // Named by Texture2D's constructors; their members are left out.
    public enum DefaultFormat { LDR = 0, HDR = 1 }

    public enum GraphicsFormat { None = 0 }

    [Flags]
    public enum TextureCreationFlags { None = 0 }
}

namespace Unity.Collections
{
    // Named by Texture2D.LoadRawTextureData<T>; its members are left out.
    public struct NativeArray<T> where T : struct { }
}
