print("bss")
