// STAND-IN, NOT UNITY: declarations only (see UnityStandIn.csproj). Each member mirrors the
// signature in Unity's scripting reference (docs.unity3d.com/ScriptReference); no body does anything.
#nullable disable
using System;

namespace UnityEngine
{
    internal static class StandIn
    {
        public static Exception Fail() => new NotSupportedException("This is the compile-only Unity stand-in, not Unity.");
    }

    public class Object
    {
        public string name { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public static void DestroyImmediate(Object obj) => throw StandIn.Fail();
    }

    public class ScriptableObject : Object { }

    public class Texture : Object
    {
        public virtual int width { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public virtual int height { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public virtual bool isReadable => throw StandIn.Fail();
    }

    public sealed class Texture2D : Texture
    {
        public Texture2D(int width, int height, TextureFormat textureFormat, bool mipChain) => throw StandIn.Fail();
        public void LoadRawTextureData(byte[] data) => throw StandIn.Fail();
        public void Apply(bool updateMipmaps = true, bool makeNoLongerReadable = false) => throw StandIn.Fail();
        public Color32[] GetPixels32(int miplevel = 0) => throw StandIn.Fail();
        public void SetPixels32(Color32[] colors, int miplevel = 0) => throw StandIn.Fail();
    }

    public static class ImageConversion
    {
        public static byte[] EncodeToPNG(this Texture2D tex) => throw StandIn.Fail();
    }

    public enum TextureFormat { RGBA32 = 4 }

    public enum TextureWrapMode { Repeat = 0, Clamp = 1 }

    public struct Color
    {
        public float r, g, b, a;
        public Color(float r, float g, float b, float a) => throw StandIn.Fail();
        public static implicit operator Color32(Color c) => throw StandIn.Fail();
    }

    public struct Color32
    {
        public byte r, g, b, a;
        public Color32(byte r, byte g, byte b, byte a) => throw StandIn.Fail();
    }

    public struct Vector2
    {
        public float x, y;
    }

    public struct Rect
    {
        public float x { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public float y { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public float width { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public float height { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public bool Contains(Vector2 point) => throw StandIn.Fail();
    }

    public enum EventType { MouseDown = 0, MouseDrag = 3 }

    public sealed class Event
    {
        public static Event current { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public EventType type { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public Vector2 mousePosition { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public void Use() => throw StandIn.Fail();
    }

    public sealed class GUILayoutOption { }

    public class GUI
    {
        public static bool enabled { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public static void DrawTexture(Rect position, Texture image) => throw StandIn.Fail();
    }

    public class GUILayout
    {
        public static bool Button(string text, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void BeginHorizontal(params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void EndHorizontal() => throw StandIn.Fail();
        public static GUILayoutOption Width(float width) => throw StandIn.Fail();
        public static GUILayoutOption Height(float height) => throw StandIn.Fail();
    }

    public class GUILayoutUtility
    {
        public static Rect GetRect(float width, float height, params GUILayoutOption[] options) => throw StandIn.Fail();
    }

    public class Application
    {
        public static string dataPath => throw StandIn.Fail();
    }
}
