#include "bss_image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

static void set_error(char *error, size_t error_size, const char *message) {
    if (error_size == 0) return;
    snprintf(error, error_size, "%s", message);
}

void bss_image_free(bss_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}

// The header's dimensions against the caller's budget, before any pixel memory is taken:
// a few hundred bytes can declare a 65535 x 65535 image.
static int too_many_pixels(unsigned long width, unsigned long height, size_t max_pixels, char *message, size_t size) {
    const unsigned long long pixels = (unsigned long long)width * height;
    if (width == 0 || height == 0) {
        snprintf(message, size, "declares an empty image (%lux%lu pixels)", width, height);
        return 1;
    }
    if (pixels <= max_pixels) return 0;
    snprintf(message, size, "declares %lux%lu = %llu pixels, more than the limit of %zu (a decompression bomb?)",
             width, height, pixels, max_pixels);
    return 1;
}

// MARK: - JPEG

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_error;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_error *e = (jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

// Warnings (level -1) are kept, not printed: the caller turns them into an error.
static void jpeg_note(j_common_ptr cinfo, int level) {
    jpeg_error *e = (jpeg_error *)cinfo->err;
    if (level < 0 && e->base.num_warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->message);
}

int bss_decode_jpeg(const unsigned char *data, size_t size, size_t max_pixels, bss_image *out, char *error, size_t error_size) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error err;
    memset(out, 0, sizeof *out);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_fail;
    err.base.emit_message = jpeg_note;
    // volatile: modified between setjmp and a possible longjmp.
    unsigned char *volatile pixels = NULL;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        set_error(error, error_size, err.message);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (too_many_pixels(cinfo.image_width, cinfo.image_height, max_pixels, err.message, sizeof err.message)) {
        longjmp(err.jump, 1);
    }
    cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        set_error(error, error_size, "out of memory");
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->channels = cinfo.output_components;
    jpeg_destroy_decompress(&cinfo);
    if (err.base.num_warnings > 0) {
        free(pixels);
        set_error(error, error_size, err.message);
        return -1;
    }
    out->pixels = pixels;
    return 0;
}

// MARK: - PNG

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
    char message[256];
} png_source;

static void png_read_memory(png_structp png, png_bytep buffer, png_size_t length) {
    png_source *s = (png_source *)png_get_io_ptr(png);
    if (length > s->size - s->offset) png_error(png, "truncated PNG data (the file ends early)");
    memcpy(buffer, s->data + s->offset, length);
    s->offset += length;
}

static void png_fail(png_structp png, png_const_charp message) {
    png_source *s = (png_source *)png_get_error_ptr(png);
    snprintf(s->message, sizeof s->message, "%s", message);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp message) { (void)png; (void)message; }

int bss_decode_png(const unsigned char *data, size_t size, size_t max_pixels, bss_image *out, char *error, size_t error_size) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        set_error(error, error_size, "not a PNG file (bad signature)");
        return -1;
    }
    png_source source = {data, size, 8, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        set_error(error, error_size, "out of memory");
        return -1;
    }
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        set_error(error, error_size, source.message);
        return -1;
    }
    png_set_read_fn(png, &source, png_read_memory);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    if (too_many_pixels(png_get_image_width(png, info), png_get_image_height(png, info), max_pixels,
                        source.message, sizeof source.message)) {
        png_longjmp(png, 1);
    }
    if (png_get_bit_depth(png, info) == 16) {
        snprintf(source.message, sizeof source.message, "16-bit PNG images are not supported (8 bits per sample expected)");
        png_longjmp(png, 1);
    }
    // Palette -> RGB, gray below 8 bits -> 8 bits, a tRNS chunk -> an alpha channel.
    png_set_expand(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int channels = png_get_channels(png, info);
    const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    const size_t stride = png_get_rowbytes(png, info);
    pixels = malloc(stride * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) {
        snprintf(source.message, sizeof source.message, "out of memory");
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + stride * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    // 2 = gray + alpha, 4 = RGB + alpha: keep the colour samples if every alpha is 255.
    const int colour = channels == 2 || channels == 4 ? channels - 1 : channels;
    if (colour != channels) {
        const size_t count = (size_t)width * height;
        for (size_t i = 0; i < count; i++) {
            if (pixels[i * channels + colour] != 255) {
                free(pixels);
                set_error(error, error_size, "has transparent pixels; bss does not guess a background colour (flatten the image first)");
                return -1;
            }
            memmove(pixels + i * colour, pixels + i * channels, colour);
        }
    }
    out->pixels = pixels;
    out->width = (int)width;
    out->height = (int)height;
    out->channels = colour;
    return 0;
}
