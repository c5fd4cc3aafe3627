"""load/shapes.py, in a child process: importing Locust monkey-patches the standard library."""

import subprocess
import sys
import textwrap


def test_shapes_from_specs_and_their_ticks():
    script = textwrap.dedent(
        """
        from voicedesk.errors import ConfigError
        from voicedesk.load.shapes import shape_from_spec

        def ticks(spec, times):
            shape = shape_from_spec(spec)()
            out = []
            for t in times:
                shape.get_run_time = lambda t=t: t
                out.append(shape.tick())
            return out

        print(ticks("step:users=5,every=30,max=15", [0, 29, 30, 61, 90]))
        print(ticks("spike:users=2,peak=20,at=10,spike=5,total=30", [0, 10, 14.9, 15, 30]))
        print(ticks("ramp:users=10,rate=2,hold=5", [0, 9.9, 10]))
        print(ticks("soak:users=4,rate=1,soak=100", [50, 104]))
        for bad in ("zigzag", "step:users=x", "ramp:peak=3", "step:users=-1"):
            try:
                shape_from_spec(bad)
            except ConfigError as exc:
                print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "[(5, 10.0), (5, 10.0), (10, 10.0), (15, 10.0), None]"
    assert lines[1] == "[(2, 50.0), (20, 50.0), (20, 50.0), (2, 50.0), None]"
    assert lines[2] == "[(10, 2.0), (10, 2.0), None]"
    assert lines[3] == "[(4, 1.0), None]"
    assert lines[4:] == [
        "--shape: expected one of ramp, step, spike, soak, got 'zigzag'",
        "--shape step: users expects a number, got 'x'",
        "--shape ramp: unknown setting 'peak'; expected users, rate, hold",
        "--shape step: users expects a number > 0, got '-1'",
    ]
