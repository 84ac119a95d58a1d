use ab_glyph::{point, Font, FontRef, ScaleFont};
use plotters::backend::{BitMapBackend, DrawingBackend, RGBPixel};
use plotters::style::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// The bitmap backend with its own text rasterizer.
///
/// plotters' `ab_glyph` text drawing places each glyph at the pen position
/// without its left side bearing and truncates the pen to whole pixels, which
/// makes letters visibly unevenly spaced at small sizes. This backend draws
/// text itself (glyphs at their exact positions, anti-aliased) and passes
/// everything else through.
pub(super) struct Canvas<'a> {
    inner: BitMapBackend<'a, RGBPixel>,
    font: FontRef<'static>,
}

impl<'a> Canvas<'a> {
    /// Wraps a bitmap backend, drawing text with `font`.
    pub(super) fn new(inner: BitMapBackend<'a, RGBPixel>, font: FontRef<'static>) -> Self {
        Self { inner, font }
    }
}

type CanvasResult<'a> =
    Result<(), DrawingErrorKind<<BitMapBackend<'a, RGBPixel> as DrawingBackend>::ErrorType>>;

impl<'a> DrawingBackend for Canvas<'a> {
    type ErrorType = <BitMapBackend<'a, RGBPixel> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> CanvasResult<'a> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> CanvasResult<'a> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> CanvasResult<'a> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> CanvasResult<'a> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> CanvasResult<'a> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> CanvasResult<'a> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> CanvasResult<'a> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> CanvasResult<'a> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> CanvasResult<'a> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> CanvasResult<'a> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        // The same scale as plotters' layout estimates, so that anchoring and
        // the space plotters reserves for text agree with what is drawn.
        let font = self.font.as_scaled(style.size() as f32);
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = ((max_x - min_x) as f32, (max_y - min_y) as f32);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        // The layout box is one em high; the baseline sits where an SVG
        // viewer puts it for plotters' anchors (about 0.76 em below the top).
        let baseline = height * 0.78;
        let mut coverage = Vec::new();
        let mut pen = 0.0f32;
        let mut previous = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(previous) = previous {
                pen += font.kern(previous, id);
            }
            let glyph = id.with_scale_and_position(font.scale(), point(pen + dx, baseline + dy));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|x, y, c| {
                    let x = bounds.min.x as i32 + x as i32;
                    let y = bounds.min.y as i32 + y as i32;
                    coverage.push((x, y, c));
                });
            }
            pen += font.h_advance(id);
            previous = Some(id);
        }
        let transform = style.transform();
        let (w, h) = self.get_size();
        for (x, y, c) in coverage {
            let (x, y) = transform.transform(x, y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if c > 0.0 && (0..w as i32).contains(&x) && (0..h as i32).contains(&y) {
                let alpha = color.alpha * f64::from(c.min(1.0));
                self.inner
                    .draw_pixel((x, y), BackendColor { alpha, ..color })?;
            }
        }
        Ok(())
    }
}
