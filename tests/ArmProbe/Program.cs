System.Console.WriteLine($"hello from {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}");
