"""nbgrader preprocessors of the course."""

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade


class StderrIsNotFailure(NbGraderPreprocessor):
    """nbgrader marks a test cell failed when anything is printed on stderr, so a warning from
    torch or numpy would zero a correct answer. Only a raised error should fail a test: this
    moves the stderr text of graded cells to stdout, marked as a warning, before grading."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell):
            errored = any(o.output_type == "error" for o in cell.outputs)
            if not errored:
                for output in cell.outputs:
                    if output.output_type == "stream" and output.name == "stderr":
                        output.name = "stdout"
                        output.text = "".join("[warning] " + line for line in output.text.splitlines(True))
        return cell, resources
